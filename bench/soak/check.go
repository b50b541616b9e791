package soak

import (
	"fmt"
	"slices"
)

// maxFailureLines bounds the failure messages a Verdict lists (counts are
// always complete).
const maxFailureLines = 40

// Verdict is the checker's finding over one History. The run holds the
// contract only when OK.
type Verdict struct {
	// Acked is the number of distinct events acknowledged (an id counts
	// once however many times it was acknowledged).
	Acked int `json:"acked"`
	// Errored is the number of events that got at least one error answer.
	Errored int `json:"errored"`
	// Unresolved is the number of events never acknowledged (every attempt
	// failed): allowed, as long as they never appear.
	Unresolved int `json:"unresolved"`
	// Delivered is the number of deliveries checked.
	Delivered int `json:"delivered"`
	// Lost counts (subscriber, acknowledged seq) pairs never delivered.
	Lost int `json:"lost"`
	// Duplicated counts deliveries of a seq already delivered to the same
	// subscriber, and of an id already delivered under another seq.
	Duplicated int `json:"duplicated"`
	// Reordered counts deliveries of a seq below one delivered before.
	Reordered int `json:"reordered"`
	// Mismatched counts deliveries whose id or data differ from what the
	// acknowledged seq was acknowledged for.
	Mismatched int `json:"mismatched"`
	// Phantoms counts deliveries of a seq never acknowledged: an event
	// answered with an error whose retries never got that seq, or one
	// never sent.
	Phantoms int `json:"phantoms"`
	// DoubleAcked counts seqs acknowledged for two different events, and
	// ids acknowledged with two different seqs.
	DoubleAcked int `json:"double_acked"`
	// Failures says what broke, at most maxFailureLines lines.
	Failures []string `json:"failures"`
}

// OK reports whether every invariant held.
func (v *Verdict) OK() bool {
	return v.Lost == 0 && v.Duplicated == 0 && v.Reordered == 0 && v.Mismatched == 0 &&
		v.Phantoms == 0 && v.DoubleAcked == 0 && len(v.Failures) == 0
}

func (v *Verdict) failf(format string, args ...any) {
	if len(v.Failures) < maxFailureLines {
		v.Failures = append(v.Failures, fmt.Sprintf(format, args...))
	} else if len(v.Failures) == maxFailureLines {
		v.Failures = append(v.Failures, "… (more failures left out; the counts are complete)")
	}
}

// ack is what one seq or id of an org was acknowledged for.
type ack struct {
	id, data string
	seq      uint64
}

// orgAcks indexes the acknowledgements of one org.
type orgAcks struct {
	bySeq   map[uint64]ack
	byID    map[string]ack
	errored map[string]bool
}

// Check runs the checker over h: the publish answers first (no seq
// acknowledged for two events, no id acknowledged with two seqs), then
// every subscriber that stayed in its org (every acknowledged seq
// delivered once, in seq order, with the id and data it was acknowledged
// for; nothing delivered that was not acknowledged).
func Check(h *History) *Verdict {
	v := &Verdict{Failures: []string{}}
	orgs := map[string]*orgAcks{}
	for _, a := range h.Attempts {
		o := orgs[a.Org]
		if o == nil {
			o = &orgAcks{bySeq: map[uint64]ack{}, byID: map[string]ack{}, errored: map[string]bool{}}
			orgs[a.Org] = o
		}
		if a.Err != "" {
			o.errored[a.ID] = true
			continue
		}
		got := ack{id: a.ID, data: a.Data, seq: a.Seq}
		if prev, ok := o.bySeq[a.Seq]; ok && (prev.id != a.ID || prev.data != a.Data) {
			v.DoubleAcked++
			v.failf("org %s: seq %d acknowledged for two events: id %q, then id %q", a.Org, a.Seq, prev.id, a.ID)
		} else if !ok {
			o.bySeq[a.Seq] = got
		}
		if prev, ok := o.byID[a.ID]; ok && prev.seq != a.Seq {
			v.DoubleAcked++
			v.failf("org %s: id %q acknowledged with seq %d, then with seq %d", a.Org, a.ID, prev.seq, a.Seq)
		} else if !ok {
			o.byID[a.ID] = got
		}
	}
	for _, o := range orgs {
		v.Acked += len(o.byID)
		v.Errored += len(o.errored)
		for id := range o.errored {
			if _, ok := o.byID[id]; !ok {
				v.Unresolved++
			}
		}
	}
	for _, s := range h.Subscribers {
		if !s.Stayed {
			continue
		}
		o := orgs[s.Org]
		if o == nil {
			o = &orgAcks{bySeq: map[uint64]ack{}, byID: map[string]ack{}, errored: map[string]bool{}}
		}
		checkSubscriber(v, s, o)
	}
	return v
}

// checkSubscriber checks one subscriber's deliveries against its org's
// acknowledgements.
func checkSubscriber(v *Verdict, s *SubscriberLog, o *orgAcks) {
	seen := make(map[uint64]bool, len(s.Deliveries))
	idSeq := make(map[string]uint64, len(s.Deliveries))
	var top uint64
	for _, d := range s.Deliveries {
		v.Delivered++
		if seen[d.Seq] {
			v.Duplicated++
			v.failf("%s (org %s): seq %d delivered twice", s.Name, s.Org, d.Seq)
			continue
		}
		seen[d.Seq] = true
		if d.Seq < top {
			v.Reordered++
			v.failf("%s (org %s): seq %d delivered after seq %d", s.Name, s.Org, d.Seq, top)
		}
		top = max(top, d.Seq)
		if prev, ok := idSeq[d.ID]; ok && d.ID != "" {
			v.Duplicated++
			v.failf("%s (org %s): id %q delivered as seq %d and as seq %d (stored twice)", s.Name, s.Org, d.ID, prev, d.Seq)
		} else {
			idSeq[d.ID] = d.Seq
		}
		a, ok := o.bySeq[d.Seq]
		switch {
		case !ok && o.errored[d.ID]:
			v.Phantoms++
			v.failf("%s (org %s): seq %d is id %q, answered with an error and never acknowledged with this seq", s.Name, s.Org, d.Seq, d.ID)
		case !ok:
			v.Phantoms++
			v.failf("%s (org %s): seq %d (id %q) was never acknowledged", s.Name, s.Org, d.Seq, d.ID)
		case a.id != d.ID || a.data != d.Data:
			v.Mismatched++
			v.failf("%s (org %s): seq %d delivered as id %q data %s, acknowledged for id %q data %s", s.Name, s.Org, d.Seq, d.ID, d.Data, a.id, a.data)
		}
	}
	// Lost: an acknowledged seq never delivered, or an acknowledged event
	// never delivered (its seq went to another event).
	var lost []uint64
	for seq := range o.bySeq {
		if !seen[seq] {
			lost = append(lost, seq)
		}
	}
	for id, a := range o.byID {
		if _, ok := idSeq[id]; !ok && seen[a.seq] {
			lost = append(lost, a.seq)
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		v.Lost += len(lost)
		v.failf("%s (org %s): %d acknowledged seqs never delivered, the first %v", s.Name, s.Org, len(lost), lost[:min(len(lost), 10)])
	}
}
