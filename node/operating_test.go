package node_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// PROTOCOL.md "Operating": /healthz and /readyz 200 on a running node;
// /metrics is Prometheus text with orgstream's figures; /v2/realtime/metrics
// is JSON with at least the eight named keys, whose values follow the
// traffic.
func TestOperatingEndpoints(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	if n.NATSURL() != "" {
		t.Errorf("--nats-listen off: NATSURL %q, want none", n.NATSURL())
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, b := get(t, n.BaseURL()+p); st != 200 {
			t.Errorf("GET %s: %d %s", p, st, b)
		} else if p == "/readyz" && readyCode(t, b) != "ready" {
			t.Errorf("GET /readyz: %s, want code ready", b)
		}
	}

	// Traffic: 2 orgs, 3 streams, 12 events, one resume replaying 4.
	pub := n.Token(t, "*", "backend", time.Hour, true)
	a1, _ := subscriber(ctx, t, n, "acme", "alice")
	a2, _ := subscriber(ctx, t, n, "acme", "bob")
	g, _ := subscriber(ctx, t, n, "globex", "carol")
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "t", 10)
	testkit.PublishBatch(t, n.BaseURL(), "globex", pub, "t", 2)
	for _, c := range []*testkit.Client{a1, a2} {
		if _, err := c.CollectSeqs(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.CollectSeqs(ctx, 2); err != nil {
		t.Fatal(err)
	}
	r := expectResumed(ctx, t, n, "acme", 6, n.Epoch(), 10)

	st, b := get(t, n.BaseURL()+"/v2/realtime/metrics")
	if st != 200 {
		t.Fatalf("metrics JSON: %d %s", st, b)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("metrics JSON %s: %v", b, err)
	}
	m := map[string]float64{}
	for k, v := range doc {
		var f float64
		if json.Unmarshal(v, &f) == nil {
			m[k] = f
		}
	}
	checks := []struct {
		key string
		ok  func(float64) bool
	}{
		{"connections", func(v float64) bool { return v == 4 }},
		{"orgs_active", func(v float64) bool { return v == 2 }},
		{"nats_subscriptions", func(v float64) bool { return v >= 2 }},
		{"events_published_total", func(v float64) bool { return v == 12 }},
		{"events_delivered_total", func(v float64) bool { return v >= 22 }},
		{"replayed_total", func(v float64) bool { return v >= 4 }},
		{"slow_consumer_disconnects_total", func(v float64) bool { return v == 0 }},
		{"uptime_s", func(v float64) bool { return v > 0 && v < 3600 }},
	}
	for _, c := range checks {
		v, ok := m[c.key]
		if !ok {
			t.Errorf("metrics JSON lacks %q: %s", c.key, b)
		} else if !c.ok(v) {
			t.Errorf("metrics JSON %s = %v is implausible after the traffic (%s)", c.key, v, b)
		}
	}
	r.Close()

	// PROTOCOL.md v2: the JSON names each stream's leader (every
	// partition's and the heads stream's); a single node leads them all,
	// under its node name.
	want := logStreamsLedBy("test-0")
	if got := logLeaders(t, n.BaseURL()); !maps.Equal(got, want) {
		t.Errorf("log stream leaders %v, want %v", got, want)
	}

	st, b = get(t, n.BaseURL()+"/metrics")
	if st != 200 {
		t.Fatalf("/metrics: %d", st)
	}
	text := string(b)
	for _, name := range []string{
		"orgstream_connections", "orgstream_orgs_active", "orgstream_nats_subscriptions",
		"orgstream_events_published_total", "orgstream_events_delivered_total",
		"orgstream_replayed_total", "orgstream_slow_consumer_disconnects_total",
	} {
		if !strings.Contains(text, "\n"+name+" ") && !strings.HasPrefix(text, name+" ") {
			t.Errorf("/metrics lacks a sample of %s", name)
		}
		if !strings.Contains(text, "# TYPE "+name+" ") {
			t.Errorf("/metrics lacks # TYPE for %s", name)
		}
	}
	if !strings.Contains(text, "orgstream_events_published_total 12\n") {
		t.Errorf("/metrics: events_published_total is not 12")
	}
}
