package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// historyRequest asks an org actor for its window's frames from..from+max-1.
type historyRequest struct {
	from uint64
	max  int
}

// historyWindow is the answer: ok is false when the window does not hold
// from (or the org actor has no core yet).
type historyWindow struct {
	frames []*messages.Frame
	head   uint64
	ok     bool
}

func (a *orgActor) history(m *historyRequest) *historyWindow {
	if a.core == nil {
		return &historyWindow{}
	}
	frames, head, ok := a.core.WindowFrames(m.from, m.max, nil)
	return &historyWindow{frames: frames, head: head, ok: ok}
}

// History reads a page of org's events after `after` that scope allows, at
// most limit of them, examining at most messages.MaxHistoryScan seqs. The
// events come from the org actor's window when this node has the org active
// and its window holds after+1, else from the log (filtered before they are
// encoded). It never spawns an org actor: a history read is not a
// subscriber.
func (h *Hub) History(ctx context.Context, org string, after uint64, limit int, scope messages.Scope) (messages.HistoryPage, error) {
	page := messages.HistoryPage{Epoch: h.cfg.Log.Epoch()}
	first, head, err := h.cfg.Log.Bounds(ctx, org)
	if err != nil {
		return page, fmt.Errorf("history of %s: bounds: %w", org, err)
	}
	page.First, page.Head, page.Last = first, head, after
	if after+1 < first {
		page.Expired = true
		return page, nil
	}
	next := after + 1
	budget := uint64(messages.MaxHistoryScan)
	take := func(seq uint64, f *messages.Frame) bool {
		if scope.AllowsFrame(f) {
			page.Frames = append(page.Frames, f)
		}
		page.Last = seq
		return len(page.Frames) < limit
	}
	if w := h.window(ctx, org, next); w != nil && w.ok {
		page.Head = max(page.Head, w.head)
		for i, f := range w.frames {
			if !take(next+uint64(i), f) {
				return page, nil
			}
		}
		// The window may trail the log: acknowledged events the live feed
		// has not brought yet. The log serves the rest up to its head.
		next += uint64(len(w.frames))
	}
	for next <= page.Head && next-after <= budget {
		n := min(replayChunk, int(min(page.Head, after+budget)-next+1))
		evs, err := h.cfg.Log.Read(ctx, org, next, n)
		if err != nil {
			return page, fmt.Errorf("history of %s: read from %d: %w", org, next, err)
		}
		if len(evs) == 0 || evs[len(evs)-1].Seq < next {
			break // aged out while we read: the page ends here
		}
		for i := range evs {
			ev := &evs[i]
			if ev.Seq < next || ev.Seq > page.Head {
				continue
			}
			var f *messages.Frame
			if scope.Allows(ev.Topic, ev.To) {
				enc := messages.EncodeEvent(*ev)
				f = &enc
			} else {
				f = &messages.Frame{Seq: ev.Seq, Topic: ev.Topic, To: ev.To}
			}
			next = ev.Seq + 1
			if !take(ev.Seq, f) {
				return page, nil
			}
		}
	}
	return page, nil
}

// window asks org's actor, when this node has it active, for its window's
// frames from `from` on (at most messages.MaxHistoryScan); nil when the org
// is not active here or the actor does not answer in time.
func (h *Hub) window(ctx context.Context, org string, from uint64) *historyWindow {
	e := h.holdActive(org)
	if e == nil {
		return nil
	}
	defer h.release(e)
	timeout := h.cfg.RecoverTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, err := h.sys.Root.RequestFuture(e.pid, &historyRequest{from: from, max: messages.MaxHistoryScan}, timeout).Result()
	if err != nil {
		return nil
	}
	w, _ := res.(*historyWindow)
	return w
}

// holdActive holds org's entry when its actor runs on this node (see
// acquire), nil otherwise.
func (h *Hub) holdActive(org string) *orgEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries[org] == nil || h.draining {
		return nil
	}
	e, err := h.acquireLocked(org)
	if err != nil {
		return nil
	}
	return e
}
