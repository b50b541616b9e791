package socket

import (
	"net"
	"sync"
)

// Outbox is one connection's bounded outbound queue, counted in bytes
// (DESIGN.md invariant 7). Its producers (the org actor, a replay, the
// heartbeat) push shared, immutable frames without ever blocking; the
// connection's writer takes them all at once and writes them in one writev.
//
// On a plain TCP socket, a frame pushed while the outbox is idle (nothing
// queued, nothing taken and not yet written, not closed) is written at once
// by the pusher with one non-blocking write, and Flush writes a queued
// burst with one non-blocking writev: a socket that takes it costs no kick,
// no hop and no deadline. A partial write queues the unwritten tail (the
// frame stays whole on the wire, the tail first in the queue), and a socket
// that would block keeps the frames queued: either way the pusher kicks the
// writer, which then owns the socket until its batch is written. Measured
// (BenchmarkDeliver, all events at once): writing every push directly cost
// a syscall per frame where the queue and one writev took a whole burst:
// 3 to 5 times slower to one connection, 30 to 50 times to 100 or 1,000;
// hence Queue and Flush for fan-out.
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
// write has waited past the writer's fast write). The org actor delivers in
// bursts (a follower's catch-up read brings up to 8 MiB at once, and the
// flush goes behind the burst), faster than any socket drains; a client
// whose socket takes every write at once is keeping up, and is cut only past
// BurstLimits × limit. Memory stays bounded: at most BurstLimits × limit
// bytes wait, and one batch of at most that is being written.
type Outbox struct {
	mu       sync.Mutex
	space    sync.Cond // signalled when bytes drop or the outbox closes
	q        [][]byte
	queued   int // bytes in q
	inflight int // bytes taken and not yet written
	limit    int
	// blocked is set while a write waits on a full socket.
	blocked bool
	kicked  bool // a flush is pending with the writer
	closed  bool
	// overflowed is true when a push past the limit closed it (a slow
	// consumer), false when the connection closed it (the client left).
	overflowed bool
	// w writes idle pushes at once; nil when the socket is not a plain TCP
	// socket (TLS, a wrapper): every push is then queued.
	w *rawWriter
	// err is the failure of a direct write; the outbox closed with it.
	err error
	// partial: q[0] is the unwritten tail of a frame whose head is on the
	// wire. Closing keeps it as tail: the close frame can only follow it.
	partial bool
	tail    []byte
	iov     [][]byte // Flush's scratch, so q keeps the frames' lengths
}

// NewOutbox returns an outbox of limit bytes for sock. Direct writes are on
// when sock is a *net.TCPConn; a nil sock or any other kind queues every
// push for the writer.
func NewOutbox(limit int, sock net.Conn) *Outbox {
	o := &Outbox{limit: limit, w: newRawWriter(sock)}
	o.space.L = &o.mu
	return o
}

// BurstLimits is how many times its limit an outbox holds while its socket
// takes writes at once.
const BurstLimits = 4

// Push queues b, or writes it at once when the outbox is idle. kick reports
// that the caller must tell the writer to flush: b (or its tail) is the
// first frame queued, or a direct write failed (Err says why, and the
// writer ends the connection). ok is false when the outbox is closed or b
// would take it past its limit; the outbox is then closed and its pending
// frames dropped, and the caller cuts the connection (4008) if it
// overflowed.
//
// A caller that pushes bursts (the org actor, with the rest of its mailbox
// behind) uses Queue and Flush instead: a write per frame would cost a
// syscall per frame where one writev takes the burst.
func (o *Outbox) Push(b []byte) (kick, ok bool) {
	return o.push(b, true)
}

// Queue is Push without the direct write: b waits for a Flush or the
// writer. Same limits, same results.
func (o *Outbox) Queue(b []byte) (kick, ok bool) {
	return o.push(b, false)
}

func (o *Outbox) push(b []byte, direct bool) (kick, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false, false
	}
	if n := o.queued + len(b); n > o.limit && (o.blocked || n > BurstLimits*o.limit) {
		o.overflowed = true
		o.closeLocked()
		return false, false
	}
	return o.enqueueLocked(b, direct), true
}

// enqueueLocked writes b directly when asked and the outbox is idle, and
// queues what the socket did not take.
func (o *Outbox) enqueueLocked(b []byte, direct bool) (kick bool) {
	if direct && o.w != nil && o.queued == 0 && o.inflight == 0 && !o.kicked {
		n, err := o.w.write(b)
		if err != nil {
			o.err = err
			o.closeLocked()
			return true
		}
		if n == len(b) {
			return false
		}
		o.partial = n > 0
		b = b[n:]
	}
	o.q = append(o.q, b)
	o.queued += len(b)
	if !o.kicked {
		o.kicked = true
		return true
	}
	return false
}

// Flush writes the queue from the caller with one non-blocking writev,
// when no writer holds a batch; it is how the pusher of a burst carries out
// its kick without a hop to the writer. kick reports that frames remain
// for the writer (the socket would block, a batch is in flight, or the
// socket has no direct writes) or that the write failed (Err): the caller
// then tells the writer to flush, as it would have without Flush.
func (o *Outbox) Flush() (kick bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return o.err != nil
	}
	if o.w == nil || o.inflight > 0 || len(o.q) == 0 {
		return o.kicked
	}
	o.iov = append(o.iov[:0], o.q...)
	bufs := net.Buffers(o.iov)
	err := o.w.writev(&bufs)
	rest := 0
	for _, b := range bufs {
		rest += len(b)
	}
	if len(bufs) > 0 {
		head := len(o.q) - len(bufs)
		o.partial = len(bufs[0]) != len(o.q[head]) || head == 0 && o.partial
		o.q[head] = bufs[0]
	} else {
		o.partial = false
	}
	clear(o.iov) // bufs shares it: read it before
	if cap(o.iov) > 64 {
		o.iov = nil
	}
	if err != nil {
		o.err = err
		o.closeLocked()
		return true
	}
	if rest < o.queued {
		o.space.Broadcast()
	}
	o.queued = rest
	k := copy(o.q, o.q[len(o.q)-len(bufs):]) // the unwritten tail first, frames in order
	clear(o.q[k:])
	o.q = o.q[:k]
	if k > 0 {
		return o.kicked
	}
	if cap(o.q) > 64 {
		o.q = nil // hold no large queue while idle
	}
	o.kicked = false
	return false
}

// SetBlocked records whether a write waits on a full socket.
func (o *Outbox) SetBlocked(b bool) {
	o.mu.Lock()
	o.blocked = b
	o.mu.Unlock()
}

// MaxReplayPace caps what a replay keeps queued and in flight: replay frames
// are encoded for one connection, not shared, so this bounds the memory of
// each replaying client whatever the queue limit.
const MaxReplayPace = 1 << 20

// PushWait queues b like Push but, instead of failing, waits while the bytes
// queued and in flight are over half the limit (at most MaxReplayPace):
// replays stream more history than the limit and must be paced by the
// reader, not cut. A frame always enters an idle outbox. It returns false
// once closed. A replay is a burst: its frames are queued, never written
// directly.
func (o *Outbox) PushWait(b []byte) (kick, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pace := min(o.limit/2, MaxReplayPace)
	for !o.closed && o.queued+o.inflight > 0 && o.queued+o.inflight+len(b) > pace {
		o.space.Wait()
	}
	if o.closed {
		return false, false
	}
	return o.enqueueLocked(b, false), true
}

// Take moves the queued frames into dst (reusing its storage) and re-arms
// the kick, so a push after Take schedules another flush. The caller owns
// the socket's writes until it calls Written for them.
func (o *Outbox) Take(dst [][]byte) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	dst = append(dst[:0], o.q...)
	o.partial = false // the taker completes it
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

// Written releases n bytes taken earlier.
func (o *Outbox) Written(n int) {
	o.mu.Lock()
	o.inflight -= n
	o.mu.Unlock()
	o.space.Broadcast()
}

// Close drops what is pending and refuses further pushes; a direct write in
// progress ends first, so that after Close only the closer writes the
// socket. Safe to call twice.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.closeLocked()
	o.mu.Unlock()
}

func (o *Outbox) closeLocked() {
	if o.closed {
		return
	}
	o.closed = true
	if o.partial && len(o.q) > 0 {
		o.tail = o.q[0]
	}
	clear(o.q)
	o.q = nil
	o.space.Broadcast()
}

// CloseAndTake closes the outbox like Close but hands over what it still
// holds instead of dropping it: the unwritten end of a started frame
// first, then the queued frames, appended to dst. A connection the server
// closes writes them before its close frame, so that what was queued
// before the close is delivered; an outbox already closed (it overflowed:
// the client is not reading) hands over only that end. At most the
// outbox's bound is handed over.
func (o *Outbox) CloseAndTake(dst [][]byte) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		if o.tail != nil {
			dst = append(dst, o.tail)
			o.tail = nil
		}
		return dst
	}
	dst = append(dst, o.q...) // q[0] is the started frame's end, if any
	o.closed = true
	o.partial = false
	clear(o.q)
	o.q = nil
	o.queued = 0
	o.space.Broadcast()
	return dst
}

// Closed reports whether the outbox refuses pushes.
func (o *Outbox) Closed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// Overflowed reports whether a push past the limit closed the outbox.
func (o *Outbox) Overflowed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overflowed
}

// Err is the error of a failed direct write (which closed the outbox), or
// nil.
func (o *Outbox) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// TryWrite writes what of bufs the socket takes now, without blocking and
// without a deadline, and consumes it from bufs; it returns at once when
// the socket would block, with the rest left in bufs. Only the holder of a
// taken batch calls it. On a socket without direct writes it writes
// nothing.
func (o *Outbox) TryWrite(bufs *net.Buffers) error {
	if o.w == nil {
		return nil
	}
	return o.w.writev(bufs)
}
