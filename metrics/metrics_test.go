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
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if got := string(raw["log"]); got != `{"streams":[]}` {
		t.Errorf(`"log" = %s before any probe, want {"streams":[]}`, got)
	}
	delete(raw, "log")
	doc := map[string]float64{}
	for k, v := range raw {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			t.Fatalf("%s = %s is not a number", k, v)
		}
		doc[k] = f
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

// The log's streams show in the JSON as set last, and the snapshot does
// not share memory with the caller's slice.
func TestSnapshotLogStreams(t *testing.T) {
	m := New()
	in := []LogStream{{Name: "ORGSTREAM", Leader: "n2"}, {Name: "ORGSTREAM_HEADS", Leader: ""}}
	m.SetLogStreams(in)
	in[0].Leader = "changed by the caller"
	b, err := json.Marshal(m.Snapshot(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Log struct {
			Streams []LogStream `json:"streams"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := []LogStream{{Name: "ORGSTREAM", Leader: "n2"}, {Name: "ORGSTREAM_HEADS"}}
	if len(doc.Log.Streams) != 2 || doc.Log.Streams[0] != want[0] || doc.Log.Streams[1] != want[1] {
		t.Fatalf("log streams %s, want %+v", b, want)
	}
	if !strings.Contains(string(b), `"log":{"streams":[{"name":"ORGSTREAM","leader":"n2"},{"name":"ORGSTREAM_HEADS","leader":""}]}`) {
		t.Errorf("JSON %s lacks the log member as PROTOCOL.md shows it", b)
	}
	m.SetLogStreams(nil)
	if b, _ := json.Marshal(m.Snapshot(time.Now())); !strings.Contains(string(b), `"log":{"streams":[]}`) {
		t.Errorf("after SetLogStreams(nil): %s, want an empty list", b)
	}
	m.LeaderMoves.Add(2)
	if b, _ := json.Marshal(m.Snapshot(time.Now())); !strings.Contains(string(b), `"log":{"streams":[],"leader_moves":2}`) {
		t.Errorf("after 2 leader moves: %s, want them counted", b)
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
