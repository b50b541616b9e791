package client

import (
	"reflect"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// PROTOCOL.md "Scoped delivery": a stream with a topic scope takes its
// holes as they come; an unscoped stream checks its hole (an event for
// another user) with one resume and then takes it; TrustHoles takes it at
// once. Nobody receives what it may not see, and no hole loops.
func TestScopedHoles(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	const org = "scoped-holes"
	alice := nodeConfig(t, n, org, "alice")
	alice.Topics = []string{"orders.*"}
	bob := nodeConfig(t, n, org, "bob")
	trusting := nodeConfig(t, n, org, "bob")
	trusting.TrustHoles = true
	runs := map[string]*running{"alice": start(t, alice), "bob": start(t, bob), "trusting": start(t, trusting)}
	for name, r := range runs {
		waitFor(t, name+" open", func() bool { return r.State() == Open })
	}
	bodies := []string{
		`{"topic":"orders.a","data":1}`,
		`{"topic":"billing.x","data":2}`,
		`{"topic":"orders.b","data":3,"to":["bob"]}`,
		`{"topic":"orders.c","data":4,"to":["alice","carol"]}`,
		`{"topic":"orders.d","data":5}`,
		`{"topic":"orders.e","data":6}`,
	}
	for k, b := range bodies {
		if st, body := testkit.Publish(t, n.BaseURL(), org, pub, b); st != 201 {
			t.Fatalf("publish %d: %d %s", k+1, st, body)
		}
	}
	want := map[string][]uint64{"alice": {1, 4, 5, 6}, "bob": {1, 2, 3, 5, 6}, "trusting": {1, 2, 3, 5, 6}}
	for name, r := range runs {
		waitFor(t, name+" to 6", func() bool { return r.rec.lastSeq() == 6 })
		if got := r.rec.seqs(); !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s got seqs %v, want %v", name, got, want[name])
		}
	}
	if w := runs["alice"].rec.welcomes[0]; !w.Scoped {
		t.Errorf("alice's welcome %+v is not scoped", w)
	}
	for name, w := range map[string]Stats{
		"alice":    {Events: 4, Holes: 1, Dials: 1, Welcomes: 1},
		"bob":      {Events: 5, Gaps: 1, Holes: 1, Dials: 2, Reconnects: 1, Welcomes: 2, Resumes: 1},
		"trusting": {Events: 5, Holes: 1, Dials: 1, Welcomes: 1},
	} {
		if got := runs[name].Stats(); got != w {
			t.Errorf("%s stats %+v, want %+v", name, got, w)
		}
	}
}
