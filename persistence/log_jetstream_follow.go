package persistence

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// followIdle is how long a follower waits for a live message before it
// checks whether live messages may have been lost (reconnect, drops, a new
// stream leader); then it catches up from the log, since a lost message is
// otherwise noticed only when the next one arrives.
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
// see Log.Follow).
func (l *JetStreamLog) Follow(org string, after uint64, fn func(messages.Event)) (Follower, error) {
	if err := l.check(org); err != nil {
		return nil, err
	}
	sub, err := l.nc.SubscribeSync(LivePrefix + org)
	if err != nil {
		return nil, transportErr("follow", err)
	}
	// The server must know the subscription before the catch-up read, or
	// an event stored in between would be neither read nor received.
	if err := l.nc.FlushTimeout(l.cfg.RequestTimeout); err != nil {
		_ = sub.Unsubscribe()
		return nil, transportErr("follow", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &jsFollower{
		feedRunner: newFeedRunner(),
		l:          l,
		org:        org,
		events:     EventsPrefix + org,
		fn:         fn,
		sub:        sub,
		ctx:        ctx,
		cancel:     cancel,
		last:       after,
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		cancel()
		_ = sub.Unsubscribe()
		return nil, ErrClosed
	}
	l.followers[f] = struct{}{}
	l.mu.Unlock()
	go f.run()
	return f, nil
}

type jsFollower struct {
	feedRunner
	l      *JetStreamLog
	org    string
	events string // the org's events subject
	fn     func(messages.Event)
	sub    *nats.Subscription
	ctx    context.Context // ends on Stop
	cancel context.CancelFunc

	// Owned by the feed goroutine.
	last       uint64 // seq of the last event delivered (or `after`)
	lastRev    uint64 // its stream sequence, 0 when not known
	recheck    bool   // a live message was refused: catch up when idle
	reconnects uint64
	leaders    uint64
	dropped    int
}

// Stop implements Follower.
func (f *jsFollower) Stop() {
	f.stop(func() {
		f.cancel()
		_ = f.sub.Unsubscribe() // wakes NextMsg
	})
}

func (f *jsFollower) run() {
	defer close(f.done)
	defer func() {
		f.l.mu.Lock()
		delete(f.l.followers, f)
		f.l.mu.Unlock()
		_ = f.sub.Unsubscribe()
	}()
	f.missedLive() // baseline
	if !f.catchUp() {
		return
	}
	for {
		m, err := f.sub.NextMsg(followIdle)
		if f.stopped.Load() {
			return
		}
		switch {
		case err == nil:
			if !f.onLive(m) {
				return
			}
		case errors.Is(err, nats.ErrTimeout):
			if (f.missedLive() || f.recheck) && !f.catchUp() {
				return
			}
		case errors.Is(err, nats.ErrSlowConsumer):
			if !f.catchUp() {
				return
			}
		default:
			// The subscription or the connection is gone for good.
			f.l.lg.Warn("follower ended: live feed lost", zap.String("org", f.org), zap.Error(err))
			return
		}
	}
}

// missedLive reports whether live messages may have been lost since the last
// check: the connection reconnected, the subscription dropped messages, or
// the stream got a new leader (only the leader republishes).
func (f *jsFollower) missedLive() bool {
	rc := f.l.nc.Stats().Reconnects
	ld := f.l.leaderChanges.Load()
	dr, _ := f.sub.Dropped()
	missed := rc != f.reconnects || ld != f.leaders || dr != f.dropped
	f.reconnects, f.leaders, f.dropped = rc, ld, dr
	return missed
}

// catchUp delivers what the log holds after f.last, to its end, jumping
// over holes.
func (f *jsFollower) catchUp() bool {
	f.recheck = false
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
