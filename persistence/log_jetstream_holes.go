package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Holes. orgstream never leaves a hole in an org's log: seqs are
// consecutive, and retention removes the oldest events first. But a message
// can be deleted from the middle of the events' stream
// ($JS.API.STREAM.MSG.DELETE, by an operator or by anyone whose credentials
// allow it). Read then stops before the hole (a Read from inside it starts
// after it), so a client that must see every seq cannot be served across
// it. Bounds therefore reports as first the start of the contiguous tail:
// the first seq from which every event up to head is retained. A resume
// from before it is reset (window_exceeded) rather than failing its replay
// again and again.
//
// Finding it cheaply. The org's events are consecutive from the first
// retained one to the last iff the events after the first, minus those
// after the last, number last - first. A Direct Get of a batch of one gives
// an event and, in its Nats-Num-Pending header, how many events of the org
// the answering replica holds after it. Bounds reads the last event, then
// the first with its count, then the count after the last: events appended
// between the two counts only lower the difference, so this check never
// hides a hole, and the usual case costs one Get more than Bounds did
// before.
//
// When the check fails there is a hole, or an append came between the two
// counts, or the reads reached replicas that disagree (a replicated
// stream's Direct Gets may be answered by any replica, and one may lag). It
// is tried three times; then, unless a Read already met a hole in the org (a
// batch that skipped a seq, remembered per org), the stream leader tells
// (leaderSeesHole). A deleted tail (the leader's last event below a head
// marker, which is only written after its event) makes first head+1. The
// markers are lazy (log_jetstream_head.go): a tail deleted within markerEvery
// (at most 1s) of its append is seen by the node that appended it (its
// marker writer's pending head counts in Head and Bounds), by the others
// once the marker is written. With a
// hole, a bisection over stream sequences finds the first event whose tail
// is complete. Each step compares the count after a probe with the count
// after the last event read before and after it: when both agree no append
// came in between and the comparison is exact; else (after three tries) the
// later, larger one is used, which can only report a hole that is not there
// (a floor too high), never hide one. The floor found is remembered per
// org; the next Bounds checks that the tail from it is still complete (three
// Gets) and only searches again if not.
//
// Residual risk: under a steady stream of appends to the org, a hole that
// no Read has met yet may go unseen (the leader's answer keeps changing):
// one replay then meets it and fails (1011), and the client's next resume
// is reset. A step of the search that keeps seeing appends, or probes that
// reach a lagging replica (an external cluster whose client server holds no
// replica), may put the floor too high: a resume between the true floor and
// it is then reset when it could have been served. A reset is never a
// silent gap. While the leader cannot answer (an election), a suspected
// hole that no Read met is not confirmed and Bounds answers as if there
// were none.

// floor is the start of an org's contiguous tail, below which a hole was
// found: its seq and stream sequence. The zero floor means a Read saw a hole
// and its place is not known yet.
type floor struct{ seq, rev uint64 }

// sawHole records that a Read of org met a hole.
func (l *JetStreamLog) sawHole(org string) {
	l.floors.LoadOrStore(org, floor{})
}

// errLastMoved means the org's last event changed during a floor search.
var errLastMoved = errors.New("persistence: last event changed during a hole search")

// contiguousFirst resolves a suspected hole (see above). first is the oldest
// retained seq a replica showed, head the org's head and last, lastRev the
// replica's last retained event. It answers first when it cannot tell.
func (l *JetStreamLog) contiguousFirst(ctx context.Context, org string, first, head, last, lastRev uint64) (uint64, error) {
	v, seen := l.floors.Load(org)
	if fl, _ := v.(floor); seen && fl.seq != 0 && last == head {
		seq, _, complete, err := l.tailComplete(ctx, org, fl.rev, last, lastRev)
		switch {
		case errors.Is(err, errLastMoved):
		case err != nil:
			return 0, err
		case complete && seq == fl.seq:
			return fl.seq, nil
		}
	}
	lastL, hole, err := l.leaderSeesHole(ctx, org, head, seen)
	switch {
	case err != nil:
		return first, nil // the leader cannot tell now
	case lastL == 0:
		return head + 1, nil // all aged out meanwhile
	case lastL < head:
		return head + 1, nil // the newest events were deleted
	case !hole:
		return first, nil // the counts raced, or replicas disagreed
	}
	fl, err := l.searchFloor(ctx, org, last, lastRev)
	switch {
	case errors.Is(err, errLastMoved):
		return first, nil
	case err != nil:
		return 0, err
	}
	if fl.seq <= first {
		l.floors.Delete(org) // no hole (any more): it aged out
		return first, nil
	}
	l.floors.Store(org, fl)
	return fl.seq, nil
}

// leaderSeesHole asks the events stream's leader: its last event, its first
// event, the org's count, and its last event again; last is 0 when none is
// retained. When the last event did not change no append came in between,
// and count < last - first + 1 means a hole. When it changed, the leader is
// asked again, and after three tries the answer is no hole: under a steady
// stream of appends a hole may go unseen here, and a Read that meets it
// then remembers it (see above). With seen only the last event is read.
func (l *JetStreamLog) leaderSeesHole(ctx context.Context, org string, head uint64, seen bool) (last uint64, hole bool, err error) {
	for range 3 {
		if last, _, err = l.lastEvent(ctx, org, true); err != nil {
			return 0, false, err
		}
		if last == 0 || last < head || seen {
			return last, seen, nil
		}
		first, err := l.leaderFirst(ctx, org)
		if err != nil {
			return 0, false, err
		}
		count, err := l.subjectCount(ctx, org)
		if err != nil {
			return 0, false, err
		}
		again, _, err := l.lastEvent(ctx, org, true)
		if err != nil {
			return 0, false, err
		}
		if again == last {
			return last, first != 0 && first <= last && count < last-first+1, nil
		}
	}
	return last, false, nil
}

// leaderFirst is the seq of org's first event as the events stream's leader
// has it, 0 when none is retained.
func (l *JetStreamLog) leaderFirst(ctx context.Context, org string) (uint64, error) {
	m, ok, err := l.leaderGet(ctx, l.part(org).gets.leader, []byte(`{"next_by_subj":"`+l.subject(org)+`"}`))
	if err != nil || !ok {
		return 0, err
	}
	ev, _, err := eventOf(m)
	if err != nil {
		return 0, err
	}
	return ev.Seq, nil
}

// searchFloor finds org's first event whose tail up to the last event (last,
// lastRev) is complete, by bisection over stream sequences: every event
// after one that has a complete tail has one too.
func (l *JetStreamLog) searchFloor(ctx context.Context, org string, last, lastRev uint64) (floor, error) {
	lo, hi := uint64(0), lastRev
	for lo < hi {
		mid := lo + (hi-lo)/2
		_, rev, complete, err := l.tailComplete(ctx, org, mid, last, lastRev)
		switch {
		case err != nil:
			return floor{}, err
		case complete:
			hi = mid
		default:
			lo = rev + 1 // the events up to rev have the hole in their tails
		}
	}
	seq, rev, _, err := l.tailComplete(ctx, org, lo, last, lastRev)
	if err != nil {
		return floor{}, err
	}
	return floor{seq: seq, rev: rev}, nil
}

// tailComplete reports whether every event from org's first event at stream
// sequence >= from (seq, rev) up to the last event (last, lastRev) is
// retained, from the count of events after each (see above). errLastMoved:
// the last event is gone.
func (l *JetStreamLog) tailComplete(ctx context.Context, org string, from, last, lastRev uint64) (seq, rev uint64, complete bool, err error) {
	for try := 0; ; try++ {
		before, err := l.afterLast(ctx, org, last, lastRev)
		if err != nil {
			return 0, 0, false, err
		}
		ev, rev, after, ok, err := l.countedEvent(ctx, org, from)
		if err != nil {
			return 0, 0, false, err
		}
		if !ok || ev.Seq > last {
			return 0, 0, false, errLastMoved
		}
		later, err := l.afterLast(ctx, org, last, lastRev)
		if err != nil {
			return 0, 0, false, err
		}
		if before == later || try == 2 {
			return ev.Seq, rev, after >= later && ev.Seq+(after-later) >= last, nil
		}
	}
}

// afterLast counts org's events after its last event (last, lastRev) on the
// replica that answers; errLastMoved when that event is gone.
func (l *JetStreamLog) afterLast(ctx context.Context, org string, last, lastRev uint64) (uint64, error) {
	ev, _, after, ok, err := l.countedEvent(ctx, org, lastRev)
	if err == nil && (!ok || ev.Seq != last) {
		err = errLastMoved
	}
	return after, err
}

// subjectCount is how many events of org the events stream's leader holds.
func (l *JetStreamLog) subjectCount(ctx context.Context, org string) (uint64, error) {
	pt := l.part(org)
	subj := pt.events + org
	req := &nats.Msg{Subject: pt.info, Data: []byte(`{"subjects_filter":"` + subj + `"}`)}
	resp, err := request(ctx, l.nc, req, l.cfg.RequestTimeout)
	if err != nil {
		return 0, transportErr("stream info", err)
	}
	var info struct {
		Cluster *struct {
			Leader string `json:"leader"`
		} `json:"cluster"`
		State struct {
			Subjects map[string]uint64 `json:"subjects"`
		} `json:"state"`
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		return 0, fmt.Errorf("%w: stream info: bad answer: %w", ErrUnavailable, err)
	}
	switch {
	case info.Error != nil:
		return 0, fmt.Errorf("%w: stream info: %w", ErrUnavailable, info.Error)
	case info.Cluster != nil && info.Cluster.Leader == "":
		// A replica answers while there is no leader; its count may lag.
		return 0, fmt.Errorf("%w: stream info: %s has no leader", ErrUnavailable, pt.stream)
	}
	return info.State.Subjects[subj], nil
}
