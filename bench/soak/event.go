package soak

import (
	"encoding/json"
	"strconv"
	"strings"
)

// dataFor is the data of the event with id: derived from the id, so that a
// delivery is checked against what was sent without keeping a copy apart
// (the history keeps it anyway, to check exactly what was acknowledged).
func dataFor(id string) string {
	return `{"id":"` + id + `","pad":"` + strings.Repeat("x", 16+len(id)%32) + `"}`
}

// eventJSON is one event of a publish body.
func eventJSON(org, id string) string {
	return `{"topic":"soak.` + org + `","id":` + strconv.Quote(id) + `,"data":` + dataFor(id) + `}`
}

// batchBody is the publish body of the events with ids: a single event for
// one id, else a batch.
func batchBody(org string, ids []string) string {
	if len(ids) == 1 {
		return eventJSON(org, ids[0])
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = eventJSON(org, id)
	}
	return `{"events":[` + strings.Join(parts, ",") + `]}`
}

// publishAnswer is a 201/200 answer.
type publishAnswer struct {
	Seq  uint64   `json:"seq"`
	Seqs []uint64 `json:"seqs"`
}

// seqsOf reads the seqs of an answer to a publish of n events.
func seqsOf(b []byte, n int) ([]uint64, bool) {
	var a publishAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, false
	}
	seqs := a.Seqs
	if n == 1 && len(seqs) == 0 {
		seqs = []uint64{a.Seq}
	}
	if len(seqs) != n {
		return nil, false
	}
	for _, s := range seqs {
		if s == 0 {
			return nil, false
		}
	}
	return seqs, true
}
