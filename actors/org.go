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
	// kicks collects the subscribers whose outbox went from empty to not
	// empty; they are flushed (sendKicks) once the events already in the
	// mailbox are queued too, so a burst leaves in one write per socket.
	kicks      []*subscriber
	kickQueued bool
	// over collects the subscribers whose outbox overflowed while the
	// effects of one input were executed; the core hears of them after.
	over []string
	// slow collects the kicked outboxes a flush left to their connection.
	slow []*subscriber
	// shards and the fields after it split many flushes over the hub's
	// pool; runShard is bound once, so a flush does not allocate.
	shards   []flushShard
	runShard func(int)
	shardsWG sync.WaitGroup
}

// flushKicks tells the org actor to carry out the flushes it deferred.
type flushKicks struct{}

var flushKicksMsg = &flushKicks{}

func (a *orgActor) Receive(ctx actor.Context) {
	if a.core != nil {
		a.core.Appended(a.entry.acked.Load())
	}
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
	case *presenceChange:
		a.exec(ctx, a.core.Presence(m.frame))
	case *bounded:
		a.exec(ctx, a.core.Bounds(m.connID, m.first, m.logHead, m.failed))
	case *resolved:
		a.exec(ctx, a.core.Resolved(m.connID, m.next, m.failed))
	case *publishRequest:
		ctx.Forward(a.spawnWriter(ctx))
	case *flushKicks:
		a.sendKicks(ctx)
	case *historyRequest:
		ctx.Respond(a.history(m))
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
	a.core.Appended(a.entry.acked.Load())
	a.runShard = a.flushShard

	self := ctx.Self()
	root := ctx.ActorSystem().Root
	// The follower's goroutine encodes each event, with the epoch read here
	// for its SSE id: the log is not called from that goroutine.
	epoch := cfg.Epoch
	feed, err := env.log.Follow(a.org, win.Head(), func(ev messages.Event) {
		f := messages.EncodeEventIn(ev, epoch)
		root.Send(self, &liveEvent{ev: ev, frame: &f})
	})
	if err != nil {
		panic(fmt.Errorf("actors: follow org %s: %w", a.org, err))
	}
	a.feed = feed
	env.metrics.NATSSubscriptions.Add(1)
	// The writer is spawned with the first publish (spawnWriter): an org
	// that only has subscribers on this node holds no writer actor.
	// Publishers found the previous incarnation's, which is gone with it.
	a.entry.writer.Store(nil)

	// After a restart: every subscriber continues from its own position.
	a.exec(ctx, a.core.Restarted(time.Now()))
	env.logger.Debug("org actor started", zap.String("org", a.org), zap.Uint64("head", win.Head()),
		zap.Uint64("window_first", win.First()))
}

// spawnWriter returns the org's writer, spawning it on first use. Later
// publishers go to it directly: an ack never waits behind the fan-out of
// earlier events in this actor's mailbox.
func (a *orgActor) spawnWriter(ctx actor.Context) *actor.PID {
	if a.writer == nil {
		env := a.env
		a.writer = ctx.Spawn(env.props(func() actor.Actor {
			return &writer{log: env.log, org: a.org, ctx: env.ctx, retries: env.appendRetries, acked: &a.entry.acked}
		}))
		a.entry.writer.Store(a.writer)
	}
	return a.writer
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
			f := messages.EncodeEventIn(evs[i], cfg.Epoch)
			win.Add(evs[i].Seq, evs[i].Time, &f)
			size += f.MemBound()
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
	eff.Clear()
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

// pushAll executes pushes in order and defers the flushes: the outboxes
// they kicked are written once the events already in the mailbox are
// queued too (sendKicks), so a burst leaves in one writev per connection.
func (a *orgActor) pushAll(ctx actor.Context, pushes []orgcore.Push[*subscriber]) {
	if len(pushes) == 0 {
		return
	}
	live, caughtUp := pushRange(pushes, &a.kicks, &a.over)
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

// flushSplitMin is the fewest kicked outboxes whose flushes are split
// across the hub's pool, and splitMinCores the fewest cores it takes. A
// flush is one write(2) or writev (about the loopback write floor, several
// µs) and a push a lock and an append (about 25 ns), so the writes are what
// a split spreads. Measured on the 2-core box with the harness in another
// process (fanout, 10k conns × 10 orgs at 50k deliveries/s, two runs each):
// p50 9.3/8.2 ms split against 10.4/9.8 ms serial, p99 23/21 ms against
// 26/34 ms, daemon CPU per delivery 15.5/14.0 µs against 16.5/15.7 µs.
// (BenchmarkDeliverPaced, whose clients read in the same process and take
// the other core, shows no gain: 10.4 ms per event split, 9.1 serial.)
const (
	flushSplitMin = 64
	splitMinCores = 2
)

// flushShard is one part of a split flush, with the outboxes it left to
// their connections (the socket would block, or a write is in flight).
type flushShard struct {
	kicks []*subscriber
	slow  []*subscriber
}

// flushRange flushes each kicked outbox from the calling goroutine and
// appends those that still need their connection's writer to slow.
func flushRange(kicks, slow []*subscriber) []*subscriber {
	for _, sub := range kicks {
		if sub.out.Flush() {
			slow = append(slow, sub)
		}
	}
	return slow
}

func (a *orgActor) flushShard(i int) {
	s := &a.shards[i]
	s.slow = flushRange(s.kicks, s.slow)
}

// flushParallel splits the kicked outboxes into n shards run on the hub's
// pool, waits for all, and gathers the slow ones. Each outbox is in one
// shard; its own lock orders a flush against its connection's writer.
func (a *orgActor) flushParallel(n int) {
	if len(a.shards) != n {
		a.shards = make([]flushShard, n)
	}
	per := (len(a.kicks) + n - 1) / n
	for i := range a.shards {
		lo, hi := min(i*per, len(a.kicks)), min((i+1)*per, len(a.kicks))
		a.shards[i].kicks = a.kicks[lo:hi]
	}
	a.env.fanout.run(n, a.runShard, &a.shardsWG)
	for i := range a.shards {
		s := &a.shards[i]
		a.slow = append(a.slow, s.slow...)
		clear(s.slow)
		s.slow, s.kicks = s.slow[:0], nil
	}
}

// sendKicks carries out the deferred flushes: each kicked outbox is written
// here, one non-blocking writev, when its socket takes it (split across the
// hub's pool when there are many); only a socket that would block goes to
// its connection actor.
func (a *orgActor) sendKicks(ctx actor.Context) {
	if n := a.env.fanout.workers; n >= splitMinCores && len(a.kicks) >= flushSplitMin {
		a.flushParallel(n)
	} else {
		a.slow = flushRange(a.kicks, a.slow)
	}
	for _, sub := range a.slow {
		ctx.Send(sub.pid, flushMsg)
	}
	clear(a.slow)
	a.slow = a.slow[:0]
	clear(a.kicks)
	if cap(a.kicks) > 1024 {
		a.kicks = nil
	} else {
		a.kicks = a.kicks[:0]
	}
	a.kickQueued = false
}
