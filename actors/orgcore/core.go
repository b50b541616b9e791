package orgcore

import (
	"time"

	"github.com/orgstream/orgstream/messages"
)

// Config bounds an org's core.
type Config struct {
	// Epoch is the log's epoch, which welcomes name and resumes are
	// checked against.
	Epoch string
	// WindowSize, WindowBytes and Retention bound the replay window (see
	// window).
	WindowSize  int
	WindowBytes int
	Retention   time.Duration
	// MaxQueueBytes is an outbox's bound: a catch-up of at most half of it
	// is pushed inline, a longer one is replayed at the client's pace.
	MaxQueueBytes int
}

// Core is one org's delivery state. It is not safe for concurrent use: the
// shell gives it one input at a time and executes the effects an input
// returns before the next.
type Core[C any] struct {
	cfg  Config
	subs *Subs[C]
	win  *window
	// acked is the newest seq this node's writer made durable; the window's
	// head catches up to it when the stored event arrives.
	acked  uint64
	eff    Effects[C]
	frames []*messages.Frame // planFrames' buffer
}

// New returns a core around subs (which outlive it) and win, recovered from
// the log by the shell (NewWindow). A restarted org's shell gives the new
// core the old subs and then Restarted.
func New[C any](cfg Config, subs *Subs[C], win *Window) *Core[C] {
	return &Core[C]{cfg: cfg, subs: subs, win: win}
}

// Head is the org's newest seq as this node knows it: what the log's feed
// brought, or what its writer acknowledged if that is newer.
func (c *Core[C]) Head() uint64 { return max(c.win.head, c.acked) }

func (c *Core[C]) begin() *Effects[C] {
	c.eff.reset()
	return &c.eff
}

// Stored takes the log's next stored event into the window and pushes its
// shared frame to every live subscriber that needs exactly that seq. A seq
// past head+1 (the events between left the log before this node saw them)
// cuts the live subscribers that needed them: they resume and get a reset.
func (c *Core[C]) Stored(seq uint64, at time.Time, f *messages.Frame) *Effects[C] {
	eff := c.begin()
	added, jumped := c.win.add(entry{seq: seq, at: at, frame: f})
	if !added {
		return eff
	}
	c.win.prune(at)
	for _, sub := range c.subs.list {
		if !sub.live {
			continue
		}
		if sub.next != seq {
			if jumped && sub.next < seq {
				c.cut(sub, CodeSlowConsumer, "slow consumer")
			}
			continue
		}
		if sub.Scope.AllowsFrame(f) {
			eff.push(sub, f, PushLive)
		}
		sub.next++
	}
	for _, o := range eff.Ops {
		c.subs.remove(o.Sub.ID)
	}
	return eff
}

// Appended records the newest seq this node's writer made durable: a welcome
// never announces a head older than an acknowledged publish, though the
// stored event may not have arrived yet.
func (c *Core[C]) Appended(seq uint64) { c.acked = max(c.acked, seq) }

// SetEpoch sets the log's epoch that later welcomes name and resumes are
// checked against.
func (c *Core[C]) SetEpoch(epoch string) { c.cfg.Epoch = epoch }

// Tick drops the window's entries older than the retention at now, so the
// window never serves what the log no longer replays.
func (c *Core[C]) Tick(now time.Time) { c.win.prune(now) }

// Subscribe adds sub, which starts at pos. When the window alone can decide
// its start, its welcome is pushed and it catches up; otherwise (a reset
// must name the log's oldest seq, or pos is outside the window) the shell
// reads the log's bounds (OpResolve) and reports them with Bounds.
func (c *Core[C]) Subscribe(sub *Sub[C], pos Position, now time.Time) *Effects[C] {
	eff := c.begin()
	sub.next, sub.live, sub.welcomed, sub.resolving = 0, false, false, false
	c.subs.add(sub)
	c.win.prune(now)
	head := c.Head()
	if pl, ok := planFast(c.win, head, c.cfg.Epoch, pos); ok {
		c.welcome(sub, pl)
		c.catchUp(sub)
		return eff
	}
	sub.resolving, sub.pos, sub.head = true, pos, head
	eff.op(Op[C]{Kind: OpResolve, Sub: sub, Pos: pos, Head: head})
	return eff
}

// Bounds answers an OpResolve with the log's oldest retained seq and its
// newest (the leader's, when the position was past this node's head); failed
// means the log could not tell, and the subscriber is cut (1011).
func (c *Core[C]) Bounds(id string, first, logHead uint64, failed bool) *Effects[C] {
	eff := c.begin()
	if sub := c.answered(id, failed); sub != nil {
		c.welcome(sub, planWithBounds(sub.head, c.cfg.Epoch, sub.pos, first, logHead))
		c.catchUp(sub)
	}
	return eff
}

// answered takes the shell's answer for the subscriber id was resolving
// for: nil when there is nothing more to do (it left, or it was not
// resolving), or when the shell failed and the subscriber is cut (1011).
func (c *Core[C]) answered(id string, failed bool) *Sub[C] {
	sub := c.subs.get(id)
	if sub == nil || !sub.resolving {
		return nil
	}
	sub.resolving = false
	if failed {
		c.subs.remove(id)
		c.cut(sub, CodeTryAgain, "log unavailable")
		return nil
	}
	return sub
}

// Resolved answers an OpReplay: next is the seq the subscriber needs now;
// failed means the replay could not go on (the log failed or lost the next
// event, or the connection went), and the subscriber is cut (1011). A
// connection that went is not told: its Unsubscribe is on the way.
func (c *Core[C]) Resolved(id string, next uint64, failed bool) *Effects[C] {
	eff := c.begin()
	if sub := c.answered(id, failed); sub != nil {
		sub.next = next
		c.catchUp(sub)
	}
	return eff
}

// Unsubscribe forgets a subscriber whose connection closed.
func (c *Core[C]) Unsubscribe(id string) { c.subs.remove(id) }

// Overflow reports that id's outbox refused a push because it was full: a
// slow consumer (DESIGN.md invariant 7), cut with 4008.
func (c *Core[C]) Overflow(id string) *Effects[C] {
	eff := c.begin()
	if sub := c.subs.remove(id); sub != nil {
		c.cut(sub, CodeSlowConsumer, "slow consumer")
	}
	return eff
}

// Restarted catches every subscriber up from its own position after the
// org restarted (its window rebuilt from the log). Each connection is
// flushed: the flushes the failed instance deferred were lost with it.
// Subscribers the shell still works for are answered later, as before.
func (c *Core[C]) Restarted(now time.Time) *Effects[C] {
	eff := c.begin()
	c.win.prune(now)
	for _, sub := range c.subs.list {
		eff.op(Op[C]{Kind: OpFlush, Sub: sub})
		if sub.welcomed && !sub.resolving {
			sub.live = false
			c.catchUp(sub)
		}
	}
	return eff
}

func (c *Core[C]) cut(sub *Sub[C], code uint16, reason string) {
	c.eff.op(Op[C]{Kind: OpCut, Sub: sub, Code: code, Reason: reason})
}

// welcome pushes the frames that open sub's stream and sets where it starts.
func (c *Core[C]) welcome(sub *Sub[C], pl plan) {
	sub.welcomed = true
	sub.next = pl.next
	c.frames = planFrames(sub, pl, c.frames[:0])
	for _, f := range c.frames {
		c.eff.push(sub, f, PushControl)
	}
	clear(c.frames)
}

// catchUp brings sub from its next seq to the window's head and makes it
// live, pushing only the events its scope allows (next moves past the
// others). What the window holds goes inline when it is at most half an outbox;
// a longer stretch, or one older than the window, is replayed by the shell
// at the client's pace, which reports back with Resolved, and catchUp runs
// again from there.
func (c *Core[C]) catchUp(sub *Sub[C]) {
	ents, inWindow := c.win.since(sub.next)
	if inWindow {
		size := 0
		for i := range ents {
			if sub.Scope.AllowsFrame(ents[i].frame) {
				size += len(ents[i].frame.For(sub.Enc))
			}
		}
		if size <= c.cfg.MaxQueueBytes/2 {
			for i := range ents {
				if sub.Scope.AllowsFrame(ents[i].frame) {
					c.eff.push(sub, ents[i].frame, PushCatchUp)
				}
			}
			sub.next += uint64(len(ents))
			sub.live = true
			return
		}
	} else {
		ents, _ = c.win.since(c.win.first())
	}
	snap := make([]*messages.Frame, len(ents))
	for i := range ents {
		snap[i] = ents[i].frame
	}
	sub.resolving = true
	c.eff.op(Op[C]{Kind: OpReplay, Sub: sub, From: sub.next, To: c.win.head, Snap: snap})
}

// WindowFrames appends to dst the window's frames of the seqs from .. from+n-1
// (fewer when the window's head comes first), for reads that are not a
// stream (the history endpoint). ok is false when the window does not hold
// from: it is older than the window, or past its head. head is the
// window's head.
func (c *Core[C]) WindowFrames(from uint64, n int, dst []*messages.Frame) (frames []*messages.Frame, head uint64, ok bool) {
	ents, inWindow := c.win.since(from)
	if !inWindow || len(ents) == 0 {
		return dst, c.win.head, false
	}
	for i := 0; i < len(ents) && i < n; i++ {
		dst = append(dst, ents[i].frame)
	}
	return dst, c.win.head, true
}
