package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestSnapshotJSONKeys(t *testing.T) {
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	m := &Metrics{Start: start}
	m.Connections.Add(3)
	m.EventsPublished.Add(7)
	m.LiveForged.Add(4)
	b, err := json.Marshal(m.Snapshot(start.Add(90 * time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]float64
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"connections":                     3,
		"orgs_active":                     0,
		"nats_subscriptions":              0,
		"events_published_total":          7,
		"events_delivered_total":          0,
		"replayed_total":                  0,
		"slow_consumer_disconnects_total": 0,
		"uptime_s":                        90,
		"connections_refused_total":       0,
		"org_actor_restarts_total":        0,
		"publish_errors_total":            0,
		"live_forged_total":               4,
	}
	for k, v := range want {
		got, ok := doc[k]
		if !ok {
			t.Errorf("key %q missing in %s", k, b)
			continue
		}
		if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

func TestSnapshotZeroStart(t *testing.T) {
	var m Metrics
	if up := m.Snapshot(time.Now()).UptimeSeconds; up != 0 {
		t.Fatalf("uptime with zero Start = %v, want 0", up)
	}
}

func TestRegistryGathersAtScrapeTime(t *testing.T) {
	m := New()
	reg := NewRegistry(m, nil)
	m.SlowConsumerCuts.Add(2)
	m.OrgsActive.Store(5)
	m.LiveForged.Add(3)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("parse text format: %v\n%s", err, buf.String())
	}
	tests := []struct {
		name string
		want float64
	}{
		{
			name: "orgstream_slow_consumer_disconnects_total",
			want: 2,
		},
		{
			name: "orgstream_orgs_active",
			want: 5,
		},
		{
			name: "orgstream_connections",
			want: 0,
		},
		{
			name: "orgstream_live_forged_total",
			want: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := fams[tt.name]
			if !ok {
				t.Fatalf("family %s missing", tt.name)
			}
			mm := f.GetMetric()[0]
			var got float64
			if c := mm.GetCounter(); c != nil {
				got = c.GetValue()
			} else {
				got = mm.GetGauge().GetValue()
			}
			if got != tt.want {
				t.Fatalf("%s = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
	for _, name := range []string{"go_goroutines", "orgstream_uptime_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("family %s missing", name)
		}
	}
}
