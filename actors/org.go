package actors

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// orgActor is one org on this node, the shell around its core
// (orgcore.Core): it recovers the org's window from the log, follows the
// log's live feed, turns its messages into the core's inputs and executes
// the effects, and forwards publishes to its writer. All its state is
// rebuilt from the log when it starts or restarts (event sourcing); only the
// subscriber set, held by the hub entry, survives a restart.
type orgActor struct {
	env    *orgEnv
	org    string
	entry  *orgEntry
	core   *orgcore.Core[*subscriber]
	feed   persistence.Follower
	writer *actor.PID
	// kicks collects connections whose outbox went from empty to not
	// empty; they are told to flush once the events already in the mailbox
	// are pushed too, so a burst leaves in one write per connection.
	kicks      []*subscriber
	kickQueued bool
	// over collects the subscribers whose outbox overflowed while the
	// effects of one input were executed; the core hears of them after.
	over []string
	// shards and the fields after it run a large fan-out on the hub's
	// pool; runShard is bound once, so a fan-out does not allocate.
	shards   []shard
	runShard func(int)
	shardsWG sync.WaitGroup
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
		a.exec(ctx, a.core.Stored(m.ev.Seq, m.ev.Time, m.frame))
	case *subscribe:
		// The epoch's one home is the log: read it for each new stream (a
		// field read) rather than trusting the copy taken at start.
		a.core.SetEpoch(a.env.log.Epoch())
		a.exec(ctx, a.core.Subscribe(coreSubOf(m.sub), orgcore.Position{
			Resume: m.pos.resume, Last: m.pos.last, Epoch: m.pos.epoch,
		}, time.Now()))
	case *unsubscribe:
		a.core.Unsubscribe(m.connID)
	case *bounded:
		a.exec(ctx, a.core.Bounds(m.connID, m.first, m.logHead, m.failed))
	case *resolved:
		a.exec(ctx, a.core.Resolved(m.connID, m.next, m.failed))
	case *publishRequest:
		ctx.Forward(a.writer)
	case *appended:
		a.core.Appended(m.seq)
	case *flushKicks:
		a.sendKicks(ctx)
	}
}

// start recovers the org's head and window from the log, then follows it.
// A failure panics so the supervisor retries with backoff.
func (a *orgActor) start(ctx actor.Context) {
	env := a.env
	c, cancel := context.WithTimeout(env.ctx, env.recoverTimeout)
	defer cancel()
	head, err := env.log.Head(c, a.org)
	if err != nil {
		panic(fmt.Errorf("actors: recover org %s head: %w", a.org, err))
	}
	cfg := env.core
	cfg.Epoch = env.log.Epoch()
	win, err := a.recoverWindow(c, cfg, head.Seq)
	if err != nil {
		panic(fmt.Errorf("actors: recover org %s window: %w", a.org, err))
	}
	if win.Head() < head.Seq {
		// Nothing is retained, or the read stopped before a hole (an event
		// deleted from the log): the window starts empty at the head, which
		// outlives retention, and older positions are served from the log.
		// (A head past head.Seq is an event stored since the Head read; the
		// feed goes on from there.)
		win = orgcore.NewWindow(head.Seq, cfg)
	}
	a.core = orgcore.New(cfg, a.entry.subs, win)
	a.runShard = a.pushShard

	self := ctx.Self()
	root := ctx.ActorSystem().Root
	feed, err := env.log.Follow(a.org, win.Head(), func(ev messages.Event) {
		f := messages.EncodeEvent(ev)
		root.Send(self, &liveEvent{ev: ev, frame: &f})
	})
	if err != nil {
		panic(fmt.Errorf("actors: follow org %s: %w", a.org, err))
	}
	a.feed = feed
	env.metrics.NATSSubscriptions.Add(1)
	a.writer = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &writer{log: env.log, org: a.org, ctx: env.ctx, retries: env.appendRetries}
	}))
	// Publishers go to the writer directly: an ack never waits behind the
	// fan-out of earlier events in this actor's mailbox.
	a.entry.writer.Store(a.writer)

	// After a restart: every subscriber continues from its own position.
	a.exec(ctx, a.core.Restarted(time.Now()))
	env.logger.Debug("org actor started", zap.String("org", a.org), zap.Uint64("head", win.Head()),
		zap.Uint64("window_first", win.First()))
}

// recoverWindow reads the newest events up to head into a new window. A
// read stops at persistence.ReadMaxBytes, so the window fills over several;
// after the first, what the window's byte bound would evict anyway is
// skipped, estimated from the events' sizes so far: an org of 1 MiB events
// reads about --window-bytes, not --window-size MiB. It stops early at a
// hole or the log's end; the caller then starts the window empty.
func (a *orgActor) recoverWindow(c context.Context, cfg orgcore.Config, head uint64) (*orgcore.Window, error) {
	win := orgcore.NewWindow(0, cfg)
	next := uint64(1)
	if head > uint64(cfg.WindowSize) {
		next = head - uint64(cfg.WindowSize) + 1
	}
	first := true
	for next <= head {
		evs, err := a.env.log.Read(c, a.org, next, int(head-next+1))
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
			win.Add(evs[i].Seq, evs[i].Time, &f)
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
		a.env.metrics.NATSSubscriptions.Add(-1)
	}
}

// exec executes the effects of one core input: the pushes, then the other
// operations; then it tells the core of the outboxes that overflowed, and
// cuts those subscribers.
func (a *orgActor) exec(ctx actor.Context, eff *orgcore.Effects[*subscriber]) {
	a.pushAll(ctx, eff.Pushes)
	a.run(ctx, eff.Ops)
	for _, id := range a.over {
		a.run(ctx, a.core.Overflow(id).Ops)
	}
	clear(a.over)
	a.over = a.over[:0]
}

// run executes operations other than pushes.
func (a *orgActor) run(ctx actor.Context, ops []orgcore.Op[*subscriber]) {
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case orgcore.OpFlush:
			ctx.Send(op.Sub.Conn.pid, flushMsg)
		case orgcore.OpCut:
			cutConn(ctx, op.Sub.Conn, op.Code, op.Reason)
		case orgcore.OpResolve:
			a.env.resolve(ctx.Self(), a.org, op.Sub, op.Pos, op.Head)
		case orgcore.OpReplay:
			a.env.replay(ctx.Self(), a.org, op.Sub, op.From, op.To, op.Snap)
		}
	}
}

// fanoutMin is the fewest pushes of one input that are split across the
// hub's fan-out pool; below it the org actor pushes them all. A push is
// about 25 ns (a lock and an append): on the 2-core machine splitting did
// not pay even at 10,000 subscribers (BenchmarkFanoutPush: 1000 pushes in
// 21 µs serial, 29 µs split in two; 10,000 in 0.31 ms and 0.32-0.58 ms),
// since the connections' writes want the same cores. So it is kept for
// larger orgs and machines, behind this threshold; measure before lowering.
const fanoutMin = 16384

// pushAll executes pushes, in parallel shards when there are many (each
// subscriber is in one shard: one input pushes a subscriber's frames in
// order, and all of them are in one shard only if there are few), and
// defers the flushes.
func (a *orgActor) pushAll(ctx actor.Context, pushes []orgcore.Push[*subscriber]) {
	if len(pushes) == 0 {
		return
	}
	var live, caughtUp int
	if n := a.env.fanout.workers; n > 1 && len(pushes) >= fanoutMin && oneEach(pushes) {
		live, caughtUp = a.pushParallel(pushes, n)
	} else {
		live, caughtUp = pushRange(pushes, &a.kicks, &a.over)
	}
	if live > 0 {
		a.env.metrics.EventsDelivered.Add(uint64(live))
	}
	if caughtUp > 0 {
		a.env.metrics.Replayed.Add(uint64(caughtUp))
	}
	if len(a.kicks) > 0 && !a.kickQueued {
		// The self-message goes behind the messages already queued: their
		// events are pushed before the connections flush.
		a.kickQueued = true
		ctx.Send(ctx.Self(), flushKicksMsg)
	}
}

// oneEach reports pushes of a stored event to live subscribers: one per
// subscriber, so any split keeps each subscriber in one shard.
func oneEach(pushes []orgcore.Push[*subscriber]) bool {
	return pushes[0].Kind == orgcore.PushLive && pushes[len(pushes)-1].Kind == orgcore.PushLive
}

// pushRange delivers pushes in order, collecting the connections to kick
// and the subscribers that overflowed; it counts the live and caught-up
// events delivered.
func pushRange(pushes []orgcore.Push[*subscriber], kicks *[]*subscriber, over *[]string) (live, caughtUp int) {
	for i := range pushes {
		p := &pushes[i]
		kick, ok, overflowed := deliver(p.Sub.Conn, p.Frame)
		if kick {
			*kicks = append(*kicks, p.Sub.Conn)
		}
		switch {
		case overflowed:
			*over = append(*over, p.Sub.ID)
		case !ok:
		case p.Kind == orgcore.PushLive:
			live++
		case p.Kind == orgcore.PushCatchUp:
			caughtUp++
		}
	}
	return live, caughtUp
}

// shard is one part of a parallel fan-out, with what it collected.
type shard struct {
	pushes         []orgcore.Push[*subscriber]
	kicks          []*subscriber
	over           []string
	live, caughtUp int
}

func (a *orgActor) pushShard(i int) {
	s := &a.shards[i]
	s.live, s.caughtUp = pushRange(s.pushes, &s.kicks, &s.over)
}

// pushParallel splits pushes into n shards run on the hub's pool, waits for
// all, and gathers what they collected.
func (a *orgActor) pushParallel(pushes []orgcore.Push[*subscriber], n int) (live, caughtUp int) {
	if len(a.shards) != n {
		a.shards = make([]shard, n)
	}
	per := (len(pushes) + n - 1) / n
	for i := range a.shards {
		lo, hi := min(i*per, len(pushes)), min((i+1)*per, len(pushes))
		a.shards[i].pushes = pushes[lo:hi]
	}
	a.env.fanout.run(n, a.runShard, &a.shardsWG)
	for i := range a.shards {
		s := &a.shards[i]
		a.kicks = append(a.kicks, s.kicks...)
		a.over = append(a.over, s.over...)
		live += s.live
		caughtUp += s.caughtUp
		clear(s.kicks)
		s.kicks, s.over, s.pushes = s.kicks[:0], s.over[:0], nil
	}
	return live, caughtUp
}

func (a *orgActor) sendKicks(ctx actor.Context) {
	for _, sub := range a.kicks {
		// Written here, one non-blocking writev, when the socket takes it:
		// only a socket that would block goes to its connection actor.
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
