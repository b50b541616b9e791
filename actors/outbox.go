package actors

import "sync"

// outbox is one connection's bounded outbound queue, counted in bytes
// (DESIGN.md invariant 7). The org actor pushes shared, immutable frames
// without ever blocking; the connection actor takes them all at once and
// writes them in one writev.
//
// The limit bounds the bytes waiting for the writer, not the batch it is
// writing: a client is slow when frames pile up behind a write, not because
// a burst arrived while the previous one was on its way. Counting the batch
// in flight cut a reader that kept up: an idle client's queue held one 1 MiB
// frame, and the next event, arriving while the socket took the first, was
// refused (issue 10). The node refuses a limit below
// messages.MaxPublishFrames, so the frames of any accepted publish fit an
// empty queue.
//
// And the limit cuts only while the socket is not taking writes (blocked: a
// write has waited past fastWrite). The org actor delivers in bursts (a
// follower's catch-up read brings up to 8 MiB at once, and the flush goes
// behind the burst), faster than any socket drains; a client whose socket
// takes every write at once is keeping up, and is cut only past
// burstLimits × limit. Memory stays bounded: at most burstLimits × limit
// bytes wait, and one batch of at most that is being written.
type outbox struct {
	mu       sync.Mutex
	space    sync.Cond // signalled when bytes drop or the outbox closes
	q        [][]byte
	queued   int // bytes in q
	inflight int // bytes taken and not yet written
	limit    int
	// blocked is set while a write waits on a full socket.
	blocked bool
	kicked  bool // a flush is pending in the connection actor's mailbox
	closed  bool
	// overflowed is true when a push past the limit closed it (a slow
	// consumer), false when the connection closed it (the client left).
	overflowed bool
}

func newOutbox(limit int) *outbox {
	o := &outbox{limit: limit}
	o.space.L = &o.mu
	return o
}

// push queues b. kick reports that the queue was idle and the caller must
// send the connection actor a flush. ok is false when the outbox is closed or
// b would take it past its limit; the outbox is then closed and its pending
// frames dropped, and the caller cuts the connection (4008) if it overflowed.
func (o *outbox) push(b []byte) (kick, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false, false
	}
	if n := o.queued + len(b); n > o.limit && (o.blocked || n > burstLimits*o.limit) {
		o.overflowed = true
		o.closeLocked()
		return false, false
	}
	o.q = append(o.q, b)
	o.queued += len(b)
	if !o.kicked {
		o.kicked = true
		return true, true
	}
	return false, true
}

// burstLimits is how many times its limit an outbox holds while its socket
// takes writes at once.
const burstLimits = 4

// setBlocked records whether a write waits on a full socket.
func (o *outbox) setBlocked(b bool) {
	o.mu.Lock()
	o.blocked = b
	o.mu.Unlock()
}

// maxReplayPace caps what a replay keeps queued and in flight: replay frames
// are encoded for one connection, not shared, so this bounds the memory of
// each replaying client whatever the queue limit.
const maxReplayPace = 1 << 20

// pushWait queues b like push but, instead of failing, waits while the bytes
// queued and in flight are over half the limit (at most maxReplayPace):
// replays stream more history than the limit and must be paced by the
// reader, not cut. A frame always enters an idle outbox. It returns false
// once closed.
func (o *outbox) pushWait(b []byte) (kick, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pace := min(o.limit/2, maxReplayPace)
	for !o.closed && o.queued+o.inflight > 0 && o.queued+o.inflight+len(b) > pace {
		o.space.Wait()
	}
	if o.closed {
		return false, false
	}
	o.q = append(o.q, b)
	o.queued += len(b)
	if !o.kicked {
		o.kicked = true
		return true, true
	}
	return false, true
}

// take moves the queued frames into dst (reusing its storage) and re-arms the
// kick, so a push after take schedules another flush.
func (o *outbox) take(dst [][]byte) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	dst = append(dst[:0], o.q...)
	o.inflight += o.queued
	o.queued = 0
	clear(o.q)
	if cap(o.q) > 64 {
		o.q = nil // hold no large queue while idle
	} else {
		o.q = o.q[:0]
	}
	o.kicked = false
	return dst
}

// written releases n bytes taken earlier.
func (o *outbox) written(n int) {
	o.mu.Lock()
	o.inflight -= n
	o.mu.Unlock()
	o.space.Broadcast()
}

// close drops what is pending and refuses further pushes. Safe to call twice.
func (o *outbox) close() {
	o.mu.Lock()
	o.closeLocked()
	o.mu.Unlock()
}

func (o *outbox) closeLocked() {
	if o.closed {
		return
	}
	o.closed = true
	clear(o.q)
	o.q = nil
	o.space.Broadcast()
}

func (o *outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// hasOverflowed reports whether a push past the limit closed the outbox.
func (o *outbox) hasOverflowed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overflowed
}
