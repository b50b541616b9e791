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
// Finding it cheaply. Bounds reads the marker, then the last event, then
// the first event in a Direct Get of a batch of one, whose Nats-Num-Pending
// header counts the org's events after it on the replica that answered. An
// org without a hole has first + count >= last: the usual case costs no more
// reads than Bounds did before. Events appended between the reads may hide a
// hole (they raise the count); a Read that meets a hole remembers it for the
// org (positive evidence: the batch it came in skipped a seq), so at worst
// one replay fails before the next Bounds sees it.
//
// Otherwise there is a hole, or the reads reached replicas that disagree (a
// replicated stream's Direct Gets may be answered by any replica, and one
// may lag); unless a Read saw the hole, the stream leader tells: its last
// event, then the org's message count (stream info with a subject filter),
// then its first event. A deleted tail (the leader's last event below a
// head marker, which is only written after its event) makes first head+1.
// Then a bisection over stream sequences finds the first event whose tail is
// complete. Each step compares, on the replicas' counts, the events after a
// probe with those after the last event, read before and after the probe:
// when both agree no append came in between and the comparison is exact,
// else (after three tries) the later, larger one is used, which can only
// report a hole that is not there (a floor too high), never hide one. The
// floor found is remembered per org; the next Bounds checks that the tail
// from it is still complete (three Gets) and only searches again if not.
//
// Residual risk: on an external cluster whose client server holds no
// replica, probes may reach different replicas, and one that lags may put
// the floor too high: a resume between the true floor and it is then reset
// when it could have been served. A reset is never a silent gap. While the
// leader cannot answer (an election), a suspected hole that no Read saw is
// not confirmed and Bounds answers as if there were none.

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
	lastL, lastRevL, err := l.lastEvent(ctx, org, true)
	switch {
	case err != nil:
		return first, nil // the leader cannot tell now
	case lastRevL == 0:
		return head + 1, nil // all aged out meanwhile
	case lastL < head:
		return head + 1, nil // the newest events were deleted
	}
	if !seen {
		hole, err := l.leaderSeesHole(ctx, org, lastL)
		if err != nil || !hole {
			return first, nil
		}
	}
	fl, err := l.searchFloor(ctx, org, lastL, lastRevL)
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

// leaderSeesHole asks the events stream's leader whether org's log has a
// hole: with its last seq read first, then its count, then its first seq,
// a count below last - first + 1 can only come from a missing event
// (appends raise the count, expiry raises first).
func (l *JetStreamLog) leaderSeesHole(ctx context.Context, org string, last uint64) (bool, error) {
	count, err := l.subjectCount(ctx, org)
	if err != nil {
		return false, err
	}
	m, ok, err := l.leaderGet(ctx, msgGetPrefix, []byte(`{"next_by_subj":"`+EventsPrefix+org+`"}`))
	if err != nil || !ok {
		return false, err
	}
	ev, _, err := eventOf(m)
	if err != nil {
		return false, err
	}
	return ev.Seq <= last && count < last-ev.Seq+1, nil
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
	afterLast := func() (uint64, error) {
		ev, _, after, ok, err := l.countedEvent(ctx, org, lastRev)
		if err == nil && (!ok || ev.Seq != last) {
			err = errLastMoved
		}
		return after, err
	}
	for try := 0; ; try++ {
		before, err := afterLast()
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
		later, err := afterLast()
		if err != nil {
			return 0, 0, false, err
		}
		if before == later || try == 2 {
			return ev.Seq, rev, after >= later && after-later >= last-ev.Seq, nil
		}
	}
}

// subjectCount is how many events of org the events stream's leader holds.
func (l *JetStreamLog) subjectCount(ctx context.Context, org string) (uint64, error) {
	subj := EventsPrefix + org
	req := &nats.Msg{Subject: streamInfoSubject, Data: []byte(`{"subjects_filter":"` + subj + `"}`)}
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
		return 0, fmt.Errorf("%w: stream info: %s has no leader", ErrUnavailable, StreamName)
	}
	return info.State.Subjects[subj], nil
}
