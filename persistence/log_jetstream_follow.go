package persistence

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// followIdle is how often each follower is checked for live messages that
// may have been lost (reconnect, drops, a new stream leader); then it
// catches up from the log, since a lost message is otherwise noticed only
// when the next one arrives.
const followIdle = time.Second

// Follow implements Log. The feed is a core NATS subscription on
// orgstream.live.<org>, where JetStream republishes each stored event (never
// orgstream.events.<org>: refused publishes reach its plain subscribers).
// After subscribing it reads the log from after+1 to its end, then delivers
// live events by seq: older or equal seqs are dropped, a live message is
// delivered as it came only when its headers show it is the stream's
// republish of the next event (log_jetstream_live.go), and anything else is
// checked against the log and, when the log holds it, delivered from there
// with what it lacks before it (retrying with backoff while the store is
// unavailable; events that aged out or were deleted meanwhile are skipped,
// see Log.Follow). An idle follower holds no goroutine and no buffer: the
// log's dispatcher, ticker and on-demand workers do its work
// (log_jetstream_feed.go).
func (l *JetStreamLog) Follow(org string, after uint64, fn func(messages.Event)) (Follower, error) {
	if err := l.check(org); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &jsFollower{
		l:      l,
		org:    org,
		stream: l.part(org).stream,
		events: l.subject(org),
		fn:     fn,
		ctx:    ctx,
		cancel: cancel,
		last:   after,
		// The baseline of missedLive, taken before subscribing.
		reconnects: l.nc.Stats().Reconnects,
		leaders:    l.leaderChanges.Load(),
		// The initial catch-up holds the turn: live messages that arrive
		// meanwhile queue behind it.
		catchUpDue: true,
	}
	f.busy = true
	if err := l.feed.add(f); err != nil {
		cancel()
		return nil, err
	}
	// The server must know the subscription before the catch-up read, or
	// an event stored in between would be neither read nor received.
	if err := l.nc.FlushTimeout(l.cfg.RequestTimeout); err != nil {
		f.end(f.detach)
		return nil, transportErr("follow", err)
	}
	l.feed.goWork(f)
	return f, nil
}

type jsFollower struct {
	feedTurn
	l      *JetStreamLog
	org    string
	stream string // the org's partition stream
	events string // the org's events subject in it
	fn     func(messages.Event)
	sub    *nats.Subscription
	ctx    context.Context // ends on Stop
	cancel context.CancelFunc

	// Under feedTurn.mu: the work waiting for the holder of the turn.
	queue      []*nats.Msg // live messages, in arrival order
	catchUpDue bool        // read the log from last+1 to its end, first

	recheck atomic.Bool // a live message was refused: catch up when idle

	// Owned by the holder of the turn.
	last    uint64 // seq of the last event delivered (or `after`)
	lastRev uint64 // its stream sequence, 0 when not known

	// Owned by the idle check (liveFeed.check).
	reconnects uint64
	leaders    uint64
	dropped    int
	due        bool // catch up at the next check (see idleCheck)
}

// Stop implements Follower.
func (f *jsFollower) Stop() { f.stop(f.detach) }

// detach cancels the feed's reads and removes its subscription.
func (f *jsFollower) detach() {
	f.cancel()
	f.l.feed.remove(f)
	_ = f.sub.Unsubscribe()
}

// onDispatch takes a live message from the dispatcher: while the feed's
// turn is held it queues behind the holder; otherwise it is handled here
// unless it needs the log, which is a worker's job.
func (f *jsFollower) onDispatch(m *nats.Msg) {
	f.mu.Lock()
	if !f.takeLocked() {
		if !f.stopped.Load() {
			f.enqueueLocked(m)
		}
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	if _, settled := f.triage(m); settled {
		m = nil
	}
	f.handOff(m)
}

// enqueueLocked queues m for the holder of the turn; past followQueueMax
// the queue is let go for a catch-up from the log. f.mu is held.
func (f *jsFollower) enqueueLocked(m *nats.Msg) {
	if len(f.queue) >= f.l.feed.queueMax {
		clear(f.queue)
		f.queue = f.queue[:0]
		f.catchUpDue = true
		return
	}
	f.queue = append(f.queue, m)
}

// handOff ends the dispatcher's hold of the turn: m (when not nil) and
// whatever came meanwhile go to a worker, else the turn is given back.
func (f *jsFollower) handOff(m *nats.Msg) {
	f.mu.Lock()
	if m != nil {
		f.queue = slices.Insert(f.queue, 0, m)
	}
	if !f.stopped.Load() && (len(f.queue) > 0 || f.catchUpDue) {
		f.mu.Unlock()
		f.l.feed.goWork(f)
		return
	}
	f.queue = nil
	f.releaseLocked()
	f.mu.Unlock()
}

// work runs the queued work, a due catch-up first, until none is left; it
// holds the turn.
func (f *jsFollower) work() {
	for {
		f.mu.Lock()
		if f.stopped.Load() || (!f.catchUpDue && len(f.queue) == 0) {
			f.queue = nil
			f.releaseLocked()
			f.mu.Unlock()
			return
		}
		var m *nats.Msg
		catchUp := f.catchUpDue
		if catchUp {
			f.catchUpDue = false
		} else {
			m = f.queue[0]
			f.queue[0] = nil
			f.queue = f.queue[1:]
		}
		f.mu.Unlock()
		if catchUp && !f.catchUp() || !catchUp && !f.onLive(m) {
			f.end(f.detach)
			return
		}
	}
}

// scheduleCatchUp makes a catch-up due, run by the holder of the turn or
// by a worker started here.
func (f *jsFollower) scheduleCatchUp() {
	f.mu.Lock()
	if f.stopped.Load() {
		f.mu.Unlock()
		return
	}
	f.catchUpDue = true
	if !f.takeLocked() {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.l.feed.goWork(f)
}

// idleCheck replaces a wait for the next live message with a timeout: each
// followIdle it catches up when live messages may have been lost (and once
// more at the next check), or a refused message was seen at the check
// before (it may have been genuine but not applied yet:
// log_jetstream_live.go), and ends a feed whose subscription is gone for
// good.
func (f *jsFollower) idleCheck(reconnects, leaders uint64) {
	if !f.sub.IsValid() {
		if !f.stopped.Load() {
			f.l.lg.Warn("follower ended: live feed lost", zap.String("org", f.org), zap.Error(nats.ErrBadSubscription))
			f.halt(f.detach)
		}
		return
	}
	missed := f.missedLive(reconnects, leaders)
	now := missed || f.due
	if now {
		f.scheduleCatchUp()
	}
	// Lost messages may be stored but not readable yet (a replica that
	// lags, a new leader that has not applied them): look once more at the
	// next check. A refused message waits one check for its catch-up.
	f.due = missed || !now && f.recheck.Load()
}

// missedLive reports whether live messages may have been lost since the last
// check: the connection reconnected, the subscription dropped messages, or
// the stream got a new leader (only the leader republishes).
func (f *jsFollower) missedLive(reconnects, leaders uint64) bool {
	dr, _ := f.sub.Dropped()
	missed := reconnects != f.reconnects || leaders != f.leaders || dr != f.dropped
	f.reconnects, f.leaders, f.dropped = reconnects, leaders, dr
	return missed
}

// catchUp delivers what the log holds after f.last, to its end, jumping
// over holes.
func (f *jsFollower) catchUp() bool {
	f.recheck.Store(false)
	for {
		evs, revs, more, ok := f.read(f.last + 1)
		if !ok {
			return false
		}
		for i, ev := range evs {
			if ev.Seq > f.last && !f.deliver(ev, revs[i]) {
				return false
			}
		}
		if !more {
			return true
		}
	}
}

// fill delivers the events up to target from the log; the caller knows the
// log holds target+1 (or target). Events that are stored but not visible
// yet (a lagging replica) are retried; events that aged out or were deleted
// are skipped.
func (f *jsFollower) fill(target uint64) bool {
	backoff := followBackoffMin
	for f.last < target {
		evs, revs, _, ok := f.read(f.last + 1)
		if !ok {
			return false
		}
		if len(evs) == 0 {
			first, _, err := f.l.Bounds(f.ctx, f.org)
			if err == nil && first > target {
				f.last, f.lastRev = target, 0 // all of them left the log: jump
				return true
			}
			if !f.sleep(backoff) {
				return false
			}
			backoff = min(2*backoff, followBackoffMax)
			continue
		}
		for i, ev := range evs {
			if ev.Seq > f.last && !f.deliver(ev, revs[i]) {
				return false
			}
		}
	}
	return true
}

// read reads from the log, retrying with backoff while it is unavailable;
// more is true when there may be events after the last one read (a full
// read, or one that stopped before a hole). ok is false when the feed must
// end (stopped, log closed).
func (f *jsFollower) read(from uint64) (evs []messages.Event, revs []uint64, more, ok bool) {
	backoff := followBackoffMin
	for {
		if f.stopped.Load() {
			return nil, nil, false, false
		}
		evs, revs, hole, err := f.l.read(f.ctx, f.org, from, followReadMax, true)
		if err == nil {
			return evs, revs, hole || len(evs) == followReadMax || ReachedReadBytes(evs), true
		}
		if errors.Is(err, ErrClosed) || f.l.isClosed() {
			return nil, nil, false, false
		}
		f.l.lg.Debug("follower read failed, retrying", zap.String("org", f.org), zap.Error(err))
		if !f.sleep(backoff) {
			return nil, nil, false, false
		}
		backoff = min(2*backoff, followBackoffMax)
	}
}

func (f *jsFollower) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deliver calls fn unless the feed was stopped; rev is the event's stream
// sequence (0 when not known).
func (f *jsFollower) deliver(ev messages.Event, rev uint64) bool {
	if f.stopped.Load() {
		return false
	}
	f.fn(ev)
	f.last, f.lastRev = ev.Seq, rev
	return true
}
