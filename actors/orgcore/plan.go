package orgcore

import "github.com/orgstream/orgstream/messages"

// Position is where a subscribing client says it is.
type Position struct {
	Resume bool   // last_seq was given
	Last   uint64 // last_seq
	Epoch  string // epoch, "" when not given (taken as the current one)
}

// plan is the decided start of a stream: its welcome, the optional reset,
// and the next seq to deliver (replay first, then live).
type plan struct {
	welcome messages.Welcome
	reset   *messages.Reset
	next    uint64
}

// planFast decides from the window alone; head is the org's newest seq,
// which may be past the window's (acknowledged, not yet delivered by the live
// feed: those events reach the subscriber live, after the window). ok is
// false when the decision needs the log's bounds (a reset must name the
// oldest retained seq, or the position is outside the window).
func planFast(w *window, head uint64, epoch string, p Position) (pl plan, ok bool) {
	switch {
	case !p.Resume:
		return plan{welcome: messages.Welcome{Epoch: epoch, Head: head}, next: head + 1}, true
	case p.Epoch != "" && p.Epoch != epoch:
		return plan{}, false
	case p.Last > head:
		return plan{}, false
	case p.Last+1 < w.first():
		return plan{}, false
	}
	return resumed(epoch, head, p.Last), true
}

// planWithBounds decides with the log's bounds: first is its oldest retained
// seq (head+1 when none is), logHead its newest. head is the org actor's
// head when the client subscribed; the log may be ahead of it by events the
// live feed has not brought yet (another node's publishes).
func planWithBounds(head uint64, epoch string, p Position, first, logHead uint64) plan {
	top := max(head, logHead)
	reset := func(reason string) plan {
		return plan{
			welcome: messages.Welcome{Epoch: epoch, Head: head},
			reset:   &messages.Reset{Reason: reason, First: first, Head: head},
			next:    head + 1,
		}
	}
	switch {
	case !p.Resume:
		return plan{welcome: messages.Welcome{Epoch: epoch, Head: head}, next: head + 1}
	case p.Epoch != "" && p.Epoch != epoch:
		return reset(messages.ResetEpochChanged)
	case p.Last > top:
		return reset(messages.ResetInvalidPosition)
	case p.Last+1 < first:
		return reset(messages.ResetWindowExceeded)
	}
	return resumed(epoch, top, p.Last)
}

// AheadOf reports a resume of this epoch from past head, which is refused
// as invalid_position unless the log's leader knows a newer head: the shell
// asks the leader before it reports the bounds (Core.Bounds).
func AheadOf(p Position, epoch string, head uint64) bool {
	return p.Resume && (p.Epoch == "" || p.Epoch == epoch) && p.Last > head
}

func resumed(epoch string, head, last uint64) plan {
	return plan{
		welcome: messages.Welcome{
			Epoch: epoch, Head: head, Resumed: true,
			ReplayFrom: last + 1, ReplayTo: max(head, last),
		},
		next: last + 1,
	}
}

// planFrames encodes the opening frames of sub's stream: its welcome, and
// the reset when the plan has one.
func planFrames[C any](sub *Sub[C], pl plan, dst []*messages.Frame) []*messages.Frame {
	w := pl.welcome
	w.ConnID, w.Org, w.User = sub.ID, sub.Org, sub.User
	w.Scoped = sub.Scope.Scoped()
	f := messages.EncodeWelcome(w)
	dst = append(dst, &f)
	if pl.reset != nil {
		r := messages.EncodeReset(*pl.reset)
		dst = append(dst, &r)
	}
	return dst
}
