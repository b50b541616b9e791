package actors

import "github.com/orgstream/orgstream/messages"

// position is where a subscribing client says it is.
type position struct {
	resume bool   // last_seq was given
	last   uint64 // last_seq
	epoch  string // epoch, "" when not given (taken as the current one)
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
func planFast(w *window, head uint64, epoch string, p position) (pl plan, ok bool) {
	switch {
	case !p.resume:
		return plan{welcome: messages.Welcome{Epoch: epoch, Head: head}, next: head + 1}, true
	case p.epoch != "" && p.epoch != epoch:
		return plan{}, false
	case p.last > head:
		return plan{}, false
	case p.last+1 < w.first():
		return plan{}, false
	}
	return resumed(epoch, head, p.last), true
}

// planWithBounds decides with the log's bounds: first is its oldest retained
// seq (head+1 when none is), logHead its newest. head is the org actor's
// head when the client subscribed; the log may be ahead of it by events the
// live feed has not brought yet (another node's publishes).
func planWithBounds(head uint64, epoch string, p position, first, logHead uint64) plan {
	top := max(head, logHead)
	reset := func(reason string) plan {
		return plan{
			welcome: messages.Welcome{Epoch: epoch, Head: head},
			reset:   &messages.Reset{Reason: reason, First: first, Head: head},
			next:    head + 1,
		}
	}
	switch {
	case !p.resume:
		return plan{welcome: messages.Welcome{Epoch: epoch, Head: head}, next: head + 1}
	case p.epoch != "" && p.epoch != epoch:
		return reset(messages.ResetEpochChanged)
	case p.last > top:
		return reset(messages.ResetInvalidPosition)
	case p.last+1 < first:
		return reset(messages.ResetWindowExceeded)
	}
	return resumed(epoch, top, p.last)
}

// aheadOf reports a resume of this epoch from past head, which is
// refused as invalid_position unless the log's leader knows a newer head.
func aheadOf(p position, epoch string, head uint64) bool {
	return p.resume && (p.epoch == "" || p.epoch == epoch) && p.last > head
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
