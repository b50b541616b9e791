package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// orgActor is one org on this node: it owns the org's live feed from the
// log, its replay window and its subscribers, and forwards publishes to its
// writer. All its state is rebuilt from the log when it starts or restarts
// (event sourcing); only the subscriber set, held by the hub entry,
// survives a restart.
type orgActor struct {
	hub    *Hub
	org    string
	entry  *orgEntry
	subs   *subscribers
	win    *window
	feed   persistence.Follower
	writer *actor.PID
	// acked is the newest seq this node's writer made durable; the window's
	// head catches up to it when the live feed delivers.
	acked uint64
	// cuts collects subscribers to drop after a delivery loop.
	cuts []*subscriber
	// kicks collects connections whose outbox went from empty to not
	// empty; they are told to flush once the events already in the mailbox
	// are pushed too, so a burst leaves in one write per connection.
	kicks      []*subscriber
	kickQueued bool
}

// flushKicks tells the org actor to send the flushes it deferred.
type flushKicks struct{}

var flushKicksMsg = &flushKicks{}

func (a *orgActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Restarting, *actor.Stopping:
		a.stopFeed()
	case *liveEvent:
		a.onEvent(ctx, m)
	case *subscribe:
		a.onSubscribe(ctx, m)
	case *unsubscribe:
		a.subs.remove(m.connID)
	case *resolved:
		a.onResolved(ctx, m)
	case *publishRequest:
		ctx.Forward(a.writer)
	case *appended:
		a.acked = max(a.acked, m.seq)
	case *flushKicks:
		a.sendKicks(ctx)
	case *crash:
		panic("actors: injected crash of org actor " + a.org)
	}
}

// start recovers the org's head and window from the log, then follows it.
// A failure panics so the supervisor retries with backoff.
func (a *orgActor) start(ctx actor.Context) {
	h := a.hub
	c, cancel := context.WithTimeout(h.ctx, h.cfg.RecoverTimeout)
	defer cancel()
	head, err := h.cfg.Log.Head(c, a.org)
	if err != nil {
		panic(fmt.Errorf("actors: recover org %s head: %w", a.org, err))
	}
	win, err := a.recoverWindow(c, head.Seq)
	if err != nil {
		panic(fmt.Errorf("actors: recover org %s window: %w", a.org, err))
	}
	if win.head < head.Seq {
		// Nothing is retained, or the read stopped before a hole (an event
		// deleted from the log): the window starts empty at the head, which
		// outlives retention, and older positions are served from the log.
		// (A head past head.Seq is an event stored since the Head read; the
		// feed goes on from there.)
		win = newWindow(head.Seq, h.cfg.WindowSize, h.cfg.WindowBytes, h.cfg.Retention)
	}
	win.prune(time.Now())
	a.win = win

	self := ctx.Self()
	root := ctx.ActorSystem().Root
	feed, err := h.cfg.Log.Follow(a.org, win.head, func(ev messages.Event) {
		f := messages.EncodeEvent(ev)
		root.Send(self, &liveEvent{ev: ev, frame: &f})
	})
	if err != nil {
		panic(fmt.Errorf("actors: follow org %s: %w", a.org, err))
	}
	a.feed = feed
	h.cfg.Metrics.NATSSubscriptions.Add(1)
	a.writer = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &writer{log: h.cfg.Log, org: a.org, ctx: h.ctx, retries: h.cfg.AppendRetries}
	}))
	// Publishers go to the writer directly: an ack never waits behind the
	// fan-out of earlier events in this actor's mailbox.
	a.entry.writer.Store(a.writer)

	// After a restart: every subscriber continues from its own position.
	// Flushes the failed instance deferred were lost with it: kick all.
	for _, sub := range a.subs.list {
		ctx.Send(sub.pid, flushMsg)
		if sub.welcomed && !sub.resolving {
			sub.live = false
			a.catchUp(ctx, sub)
		}
	}
	h.log.Debug("org actor started", zap.String("org", a.org), zap.Uint64("head", win.head),
		zap.Uint64("window_first", win.first()))
}

// recoverWindow reads the newest events up to head into a new window. A
// read stops at persistence.ReadMaxBytes, so the window fills over several;
// after the first, what the window's byte bound would evict anyway is
// skipped, estimated from the events' sizes so far: an org of 1 MiB events
// reads about --window-bytes, not --window-size MiB. It stops early at a
// hole or the log's end; the caller then starts the window empty.
func (a *orgActor) recoverWindow(c context.Context, head uint64) (*window, error) {
	cfg := &a.hub.cfg
	win := newWindow(0, cfg.WindowSize, cfg.WindowBytes, cfg.Retention)
	next := uint64(1)
	if head > uint64(cfg.WindowSize) {
		next = head - uint64(cfg.WindowSize) + 1
	}
	first := true
	for next <= head {
		evs, err := cfg.Log.Read(c, a.org, next, int(head-next+1))
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 || (!first && evs[0].Seq != next) {
			break // the log's end, or a hole
		}
		first = false
		size := 0
		for i := range evs {
			f := messages.EncodeEvent(evs[i])
			win.add(entry{seq: evs[i].Seq, at: evs[i].Time, frame: &f})
			size += len(f.Plain) + len(f.Deflated)
		}
		next = evs[len(evs)-1].Seq + 1
		if !persistence.ReachedReadBytes(evs) {
			break // the log's end, or a hole
		}
		if keep := uint64(cfg.WindowBytes/max(size/len(evs), 1)) + 1; next <= head && head-next+1 > keep {
			next = head - keep + 1 // the window restarts there (a jump)
		}
	}
	return win, nil
}

func (a *orgActor) stopFeed() {
	if a.feed != nil {
		a.feed.Stop()
		a.feed = nil
		a.hub.cfg.Metrics.NATSSubscriptions.Add(-1)
	}
}

// onEvent takes the next stored event into the window and pushes its shared
// frame to every live subscriber that needs exactly that seq.
func (a *orgActor) onEvent(ctx actor.Context, m *liveEvent) {
	added, jumped := a.win.add(entry{seq: m.ev.Seq, at: m.ev.Time, frame: m.frame})
	if !added {
		return
	}
	a.win.prune(m.ev.Time)
	seq := m.ev.Seq
	delivered := 0
	for _, sub := range a.subs.list {
		if !sub.live {
			continue
		}
		if sub.next != seq {
			if jumped && sub.next < seq {
				// Its next events left the log (aged out, or deleted)
				// before this node saw them: cut it so it resumes and gets
				// a reset.
				a.cuts = append(a.cuts, sub)
			}
			continue
		}
		if a.push(ctx, sub, m.frame) {
			delivered++
		}
	}
	a.hub.cfg.Metrics.EventsDelivered.Add(uint64(delivered))
	a.applyCuts(ctx)
}

// push queues f for sub, advancing its position; it schedules a cut when the
// subscriber's outbox is full (a slow reader, DESIGN.md invariant 7).
func (a *orgActor) push(ctx actor.Context, sub *subscriber, f *messages.Frame) bool {
	if !a.queue(ctx, sub, f) {
		return false
	}
	sub.next++
	return true
}

// queue puts f in sub's outbox without advancing its position (welcome and
// reset frames carry no seq). An outbox the connection closed itself (the
// client left, a write failed) is not a slow consumer: its unsubscribe is on
// the way, and it is neither cut nor counted.
func (a *orgActor) queue(ctx actor.Context, sub *subscriber, f *messages.Frame) bool {
	kick, ok := sub.out.Queue(f.For(sub.deflate))
	if !ok {
		if sub.out.Overflowed() {
			a.cuts = append(a.cuts, sub)
		}
		return false
	}
	if kick {
		a.kick(ctx, sub)
	}
	return true
}

// kick defers sub's flush until the messages already queued for the org
// actor are handled: the self-message goes behind them.
func (a *orgActor) kick(ctx actor.Context, sub *subscriber) {
	a.kicks = append(a.kicks, sub)
	if !a.kickQueued {
		a.kickQueued = true
		ctx.Send(ctx.Self(), flushKicksMsg)
	}
}

func (a *orgActor) sendKicks(ctx actor.Context) {
	for _, sub := range a.kicks {
		// Written here when the socket takes it: no hop to the connection.
		if sub.out.Flush() {
			ctx.Send(sub.pid, flushMsg)
		}
	}
	clear(a.kicks)
	if cap(a.kicks) > 1024 {
		a.kicks = nil
	} else {
		a.kicks = a.kicks[:0]
	}
	a.kickQueued = false
}

func (a *orgActor) applyCuts(ctx actor.Context) {
	if len(a.cuts) == 0 {
		return
	}
	for _, sub := range a.cuts {
		if a.subs.remove(sub.connID) == nil {
			continue
		}
		sub.out.Close()
		ctx.Send(sub.pid, &closeConn{code: CloseSlowConsumer, reason: "slow consumer"}) // counted there
	}
	clear(a.cuts)
	a.cuts = a.cuts[:0]
}

func (a *orgActor) onSubscribe(ctx actor.Context, m *subscribe) {
	sub := m.sub
	a.subs.add(sub)
	a.win.prune(time.Now())
	head := a.head()
	if pl, ok := planFast(a.win, head, a.hub.cfg.Log.Epoch(), m.pos); ok {
		a.welcome(ctx, sub, pl)
		a.catchUp(ctx, sub)
		a.applyCuts(ctx)
		return
	}
	sub.resolving = true
	a.hub.goResolve(ctx.Self(), a.org, sub, m.pos, head)
}

// head is the org's newest seq as this node knows it: what the live feed
// brought, or what its writer acknowledged if that is newer.
func (a *orgActor) head() uint64 { return max(a.win.head, a.acked) }

// welcome queues the welcome (and reset) frames that open every stream.
func (a *orgActor) welcome(ctx actor.Context, sub *subscriber, pl plan) {
	sub.welcomed = true
	sub.next = pl.next
	for _, f := range planFrames(sub, pl) {
		if !a.queue(ctx, sub, f) {
			return
		}
	}
}

// catchUp brings sub from its next seq to the window's head and makes it
// live. What the window holds goes inline when small; a longer stretch, or
// one older than the window, goes to a replay goroutine paced by the
// client's reading, which reports back with resolved and catchUp runs again.
func (a *orgActor) catchUp(ctx actor.Context, sub *subscriber) {
	ents, inWindow := a.win.since(sub.next)
	if inWindow {
		size := 0
		for i := range ents {
			size += len(ents[i].frame.For(sub.deflate))
		}
		if size <= a.hub.cfg.MaxQueueBytes/2 {
			for i := range ents {
				if !a.push(ctx, sub, ents[i].frame) {
					return
				}
			}
			a.hub.cfg.Metrics.Replayed.Add(uint64(len(ents)))
			sub.live = true
			return
		}
	} else {
		ents, _ = a.win.since(a.win.first())
	}
	snap := make([]*messages.Frame, len(ents))
	for i := range ents {
		snap[i] = ents[i].frame
	}
	sub.resolving = true
	a.hub.goReplay(ctx.Self(), a.org, sub, sub.next, a.win.head, snap)
}

func (a *orgActor) onResolved(ctx actor.Context, m *resolved) {
	sub := a.subs.get(m.connID)
	if sub == nil {
		return
	}
	sub.resolving = false
	if m.failed {
		a.subs.remove(sub.connID)
		sub.out.Close()
		ctx.Send(sub.pid, &closeConn{code: CloseTryAgain, reason: "log unavailable"})
		return
	}
	sub.welcomed = true
	sub.next = m.next
	a.catchUp(ctx, sub)
	a.applyCuts(ctx)
}
