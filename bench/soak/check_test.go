package soak

import (
	"reflect"
	"testing"
	"time"
)

// acked is an acknowledged attempt of event id with seq in org "o".
func acked(id string, seq uint64) Attempt {
	return Attempt{Org: "o", ID: id, Data: dataFor(id), Seq: seq, At: time.Unix(0, 0)}
}

// failed is an attempt of event id answered with an error.
func failed(id string) Attempt {
	return Attempt{Org: "o", ID: id, Data: dataFor(id), Err: "503 log_unavailable", At: time.Unix(0, 0)}
}

// got is the delivery of event id as seq.
func got(id string, seq uint64) Delivery { return Delivery{Seq: seq, ID: id, Data: dataFor(id)} }

func sub(ds ...Delivery) *SubscriberLog {
	return &SubscriberLog{Name: "s1", Org: "o", Stayed: true, Deliveries: ds}
}

// TestCheck feeds the checker hand-made histories: a clean one must pass,
// and each breach of the contract must be counted where it belongs.
func TestCheck(t *testing.T) {
	clean := []Attempt{acked("a", 1), acked("b", 2), acked("c", 3)}
	tests := []struct {
		name     string
		attempts []Attempt
		subs     []*SubscriberLog
		want     Verdict // only the counts are compared
	}{
		{"clean", clean, []*SubscriberLog{sub(got("a", 1), got("b", 2), got("c", 3))},
			Verdict{Acked: 3, Delivered: 3}},
		{"retried after an error, same seq", []Attempt{acked("a", 1), failed("b"), acked("b", 2)},
			[]*SubscriberLog{sub(got("a", 1), got("b", 2))},
			Verdict{Acked: 2, Errored: 1, Delivered: 2}},
		{"a retry answered 200 with the first seq", []Attempt{acked("a", 1), acked("a", 1)},
			[]*SubscriberLog{sub(got("a", 1))},
			Verdict{Acked: 1, Delivered: 1}},
		{"an error never retried, never stored", []Attempt{acked("a", 1), failed("b")},
			[]*SubscriberLog{sub(got("a", 1))},
			Verdict{Acked: 1, Errored: 1, Unresolved: 1, Delivered: 1}},
		{"lost", clean, []*SubscriberLog{sub(got("a", 1), got("c", 3))},
			Verdict{Acked: 3, Delivered: 2, Lost: 1}},
		{"lost at the tail (no catch-up)", clean, []*SubscriberLog{sub(got("a", 1))},
			Verdict{Acked: 3, Delivered: 1, Lost: 2}},
		{"duplicated seq", clean, []*SubscriberLog{sub(got("a", 1), got("b", 2), got("b", 2), got("c", 3))},
			Verdict{Acked: 3, Delivered: 4, Duplicated: 1}},
		{"reordered", clean, []*SubscriberLog{sub(got("a", 1), got("c", 3), got("b", 2))},
			Verdict{Acked: 3, Delivered: 3, Reordered: 1}},
		{"seq acked for two events, one lost", []Attempt{acked("a", 1), acked("b", 1)},
			[]*SubscriberLog{sub(got("a", 1))},
			Verdict{Acked: 2, Delivered: 1, DoubleAcked: 1, Lost: 1}},
		{"seq acked for two events, the second delivered", []Attempt{acked("a", 1), acked("b", 1)},
			[]*SubscriberLog{sub(got("b", 1))},
			Verdict{Acked: 2, Delivered: 1, DoubleAcked: 1, Lost: 1, Mismatched: 1}},
		{"id acked with two seqs, stored twice", []Attempt{acked("a", 1), acked("a", 2)},
			[]*SubscriberLog{sub(got("a", 1), got("a", 2))},
			Verdict{Acked: 1, Delivered: 2, DoubleAcked: 1, Duplicated: 1}},
		{"an error answer stored under another seq than its retry's",
			[]Attempt{acked("a", 1), failed("b"), acked("b", 3)},
			[]*SubscriberLog{sub(got("a", 1), got("b", 2), got("b", 3))},
			Verdict{Acked: 2, Errored: 1, Delivered: 3, Phantoms: 1, Duplicated: 1}},
		{"an error answer stored, never acked", []Attempt{acked("a", 1), failed("b")},
			[]*SubscriberLog{sub(got("a", 1), got("b", 2))},
			Verdict{Acked: 1, Errored: 1, Unresolved: 1, Delivered: 2, Phantoms: 1}},
		{"wrong data", clean, []*SubscriberLog{sub(got("a", 1), Delivery{Seq: 2, ID: "b", Data: `{"x":1}`}, got("c", 3))},
			Verdict{Acked: 3, Delivered: 3, Mismatched: 1}},
		{"wrong event under an acked seq", clean, []*SubscriberLog{sub(got("a", 1), got("c", 2), got("b", 3))},
			Verdict{Acked: 3, Delivered: 3, Mismatched: 2}},
		{"a subscriber that left its org is not checked", clean,
			[]*SubscriberLog{{Name: "s2", Org: "o", Stayed: false, Deliveries: []Delivery{got("c", 3)}}},
			Verdict{Acked: 3}},
		{"every subscriber is checked", clean,
			[]*SubscriberLog{sub(got("a", 1), got("b", 2), got("c", 3)), sub(got("a", 1), got("b", 2))},
			Verdict{Acked: 3, Delivered: 5, Lost: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Check(&History{Attempts: tt.attempts, Subscribers: tt.subs})
			g := *v
			g.Failures = nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Errorf("verdict %+v, want %+v (failures %q)", g, tt.want, v.Failures)
			}
			breach := tt.want.Lost+tt.want.Duplicated+tt.want.Reordered+tt.want.Mismatched+tt.want.Phantoms+tt.want.DoubleAcked > 0
			if v.OK() == breach {
				t.Errorf("OK() = %v with failures %q", v.OK(), v.Failures)
			}
			if breach && len(v.Failures) == 0 {
				t.Error("a breach without a failure message")
			}
		})
	}
}
