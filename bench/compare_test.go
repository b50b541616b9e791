package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeFanout is a fanout result on nodes as RunFanout reports it.
func fakeFanout(nodes []TargetNode, perSec, p99 float64) *Result {
	r := newResult(ScenarioFanout, nil)
	r.Target = TargetInfo{URL: nodes[0].URL, Started: true, NodeCount: len(nodes), Nodes: nodes, SourceAddrs: 4}
	r.metric("deliveries/s", perSec, "events/s", "≥ 500k (10k conns)")
	r.metric("deliveries/s asked", 150000, "events/s", "")
	r.metric("latency p50", p99/3, "ms", "")
	r.metric("latency p99", p99, "ms", "≤ 25 ms")
	r.metric("latency max", p99*2, "ms", "")
	for i, n := range nodes {
		r.metric("node "+n.Name+": streams open", float64(3000/len(nodes)), "", "")
		r.metric("node "+n.Name+": RSS", float64(40+i), "MiB", "")
	}
	r.metric("daemon RSS total", float64(40*len(nodes)), "MiB", "")
	r.metric("gaps", 0, "", "0")
	r.metric("duplicates", 0, "", "0")
	var h Histogram
	h.Record(int64(p99 * 1e6))
	r.latency("publish to receive", h.Snapshot())
	r.latency("publish ack (per request)", h.Snapshot())
	r.Series = []Series{
		{Chart: "throughput over time", Name: "deliveries/s", X: []float64{0, 1}, Y: []float64{0, perSec}},
		{Chart: "throughput over time", Name: "published/s", X: []float64{0, 1}, Y: []float64{0, 500}},
	}
	return r.finish()
}

func TestCompareReport(t *testing.T) {
	one := fakeFanout([]TargetNode{{Name: "bench", URL: "http://127.0.0.1:1", PID: 5}}, 150000, 20)
	three := fakeFanout([]TargetNode{{Name: "b1", URL: "http://127.0.0.1:2"}, {Name: "b2", URL: "http://127.0.0.1:3"},
		{Name: "b3", URL: "http://127.0.0.1:4"}}, 120000, 50)
	r := newResult(ScenarioClusterCompare, nil)
	r.Target = TargetInfo{Started: true, NodeCounts: []int{1, 3}}
	addCompareRun(r, one, 1)
	addCompareRun(r, three, 3)
	addRatios(r, []int{1, 3}, []*Result{one, three})
	r.Tables = append(r.Tables, Table{Title: "Side by side", Columns: compareColumns,
		Rows: [][]string{compareRow(one, 1, "PASS"), compareRow(three, 3, "PASS")}})

	checks := map[string]float64{
		"1 node: deliveries/s":            150000,
		"3 nodes: deliveries/s":           120000,
		"3 nodes: latency p99":            50,
		"3 nodes: daemon RSS total":       120,
		"deliveries/s, 3 nodes ÷ 1 node":  0.8,
		"latency p99, 3 nodes ÷ 1 node":   2.5,
		"1 node: gaps":                    0,
		"3 nodes: duplicates":             0,
		"1 node: latency p50":             20.0 / 3,
		"3 nodes: latency max":            100,
		"1 node: daemon RSS total":        40,
		"deliveries/s, 3 nodes ÷ 1 node ": -1, // absent (no trailing space)
	}
	for name, want := range checks {
		m, ok := r.Metric(name)
		if want == -1 {
			if ok {
				t.Errorf("unexpected metric %q", name)
			}
			continue
		}
		if !ok || m.Value < want-1e-9 || m.Value > want+1e-9 {
			t.Errorf("%s = %v (found %v), want %v", name, m.Value, ok, want)
		}
	}
	if m, _ := r.Metric("3 nodes: deliveries/s"); m.Target != "" {
		t.Errorf("single-node target %q carried into the comparison", m.Target)
	}
	if m, _ := r.Metric("3 nodes: gaps"); m.Target != "0" {
		t.Errorf("gaps target %q, want 0", m.Target)
	}
	if len(r.Latencies) != 2 || r.Latencies[1].Name != "publish to receive, 3 nodes" {
		t.Errorf("latencies %+v", r.Latencies)
	}
	if len(r.Series) != 2 || r.Series[0].Name != "deliveries/s, 1 node" {
		t.Errorf("series %+v", r.Series)
	}

	dir := filepath.Join(t.TempDir(), "cmp")
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, ResultsMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"daemons started by the harness for each run: 1 node, then 3 nodes",
		"## Side by side",
		"| nodes | status | deliveries/s |",
		"| 1 | PASS | 150,000 | 150,000 | 6.67 | 20 | 40 | 0 | 0 | bench 3000 | bench 40 | 40 | n/a | n/a | nodes-1/ |",
		"| 3 | PASS | 120,000 | 150,000 | 16.67 | 50 | 100 | 0 | 0 | b1 1000, b2 1000, b3 1000 | b1 40, b2 41, b3 42 | 120 | n/a | n/a | nodes-3/ |",
		"| deliveries/s, 3 nodes ÷ 1 node | 0.8 | × |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	var back Result
	b, _ := os.ReadFile(filepath.Join(dir, ResultsJSON))
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Tables) != 1 || len(back.Tables[0].Rows) != 2 || len(back.Target.NodeCounts) != 2 {
		t.Errorf("results.json: tables %+v, target %+v", back.Tables, back.Target)
	}
}

func TestTargetText(t *testing.T) {
	cases := []struct {
		name string
		in   TargetInfo
		want string
	}{
		{"started alone", TargetInfo{URL: "http://x:1", Started: true, PID: 7, NodeCount: 1}, "http://x:1 (daemon started by the harness, pid 7), 1 node"},
		{"external", TargetInfo{URL: "http://x:1", PID: 7}, "http://x:1 (pid 7), 1 node"},
		{"cluster", TargetInfo{URL: "http://x:1", Started: true, NodeCount: 2,
			Nodes: []TargetNode{{Name: "b1", URL: "http://x:1", PID: 7}, {Name: "b2", URL: "http://x:2"}}},
			"a 2-node cluster started by the harness: b1 http://x:1 (pid 7), b2 http://x:2"},
		{"comparison", TargetInfo{NodeCounts: []int{1, 3}}, "daemons started by the harness for each run: 1 node, then 3 nodes"},
		{"no daemon", TargetInfo{SourceAddrs: 4}, "no daemon (loopback sockets only)"},
	}
	for _, tc := range cases {
		if got := targetText(tc.in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCompareConfig(t *testing.T) {
	cases := []CompareConfig{
		{Target: TargetConfig{URL: "http://a:1"}},
		{Nodes: []int{1, 0}},
		{Nodes: []int{MaxNodes + 1}},
		{Fanout: FanoutConfig{Conns: -1}},
	}
	for i, c := range cases {
		if _, err := RunClusterCompare(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("case %d: err = %v, want ErrConfig", i, err)
		}
	}
}

// TestClusterCompare starts one daemon, then a 3-node cluster of the real
// binary, through the harness, and runs a small fanout on each.
func TestClusterCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons and a cluster (about 25 s)")
	}
	bin := buildDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "cmp")
	r, err := RunClusterCompare(ctx, CompareConfig{
		Target: TargetConfig{Daemon: DaemonConfig{Path: bin}},
		Fanout: FanoutConfig{Conns: 300, Orgs: 4, Rate: 200, Size: 100, Duration: 2 * time.Second},
		Dir:    dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("comparison failed: %v", r.Failures)
	}
	for _, name := range []string{"1 node: deliveries/s", "3 nodes: deliveries/s", "3 nodes: latency p99",
		"3 nodes: daemon RSS total", "deliveries/s, 3 nodes ÷ 1 node"} {
		metricValue(t, r, name)
	}
	b, err := os.ReadFile(filepath.Join(dir, "nodes-3", ResultsJSON))
	if err != nil {
		t.Fatal(err)
	}
	var three Result
	if err := json.Unmarshal(b, &three); err != nil {
		t.Fatal(err)
	}
	if three.Target.NodeCount != 3 || !three.Target.Started {
		t.Fatalf("nodes-3 target %+v", three.Target)
	}
	published := metricValue(t, &three, "events published")
	if got := metricValue(t, &three, "deliveries"); got != published*300/4 {
		t.Errorf("deliveries %v, want %v", got, published*300/4)
	}
	for _, n := range three.Target.Nodes {
		if n.PID == 0 {
			t.Errorf("node %s: no PID", n.Name)
		}
		if got := metricValue(t, &three, "node "+n.Name+": streams open"); got != 100 {
			t.Errorf("node %s: %v streams open, want 100", n.Name, got)
		}
		metricValue(t, &three, "node "+n.Name+": RSS")
	}
	for _, f := range []string{ResultsMD, "latency-cdf.svg", "nodes-1/" + ResultsMD} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}
