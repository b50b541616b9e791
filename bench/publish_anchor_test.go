package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The publish scenario with the anchor reports the ratio rows and
// the side-by-side table.
func TestRunPublishWithAnchor(t *testing.T) {
	t.Parallel()
	tg := openNode(t, nil)
	r, err := RunPublish(testCtx(t), tg, PublishConfig{Batches: []int{1, 100}, Orgs: 2, Duration: 200 * time.Millisecond,
		Anchor: &AnchorConfig{Window: 50}, Client: true})
	requireOK(t, r, err)
	// The client run is there (its rate may be 0 in 200ms: a first batch
	// of up to 1000 events can take longer on a loaded box).
	if _, ok := r.Metric("client.Publisher ×2 orgs, window 1000: events/s"); !ok {
		t.Errorf("no client.Publisher row")
	}
	for _, name := range []string{"raw JetStream sync ×1: msgs/s", "raw JetStream sync ×2: msgs/s",
		"raw JetStream async (window 50): msgs/s", "sequential singles / raw sync", "2 parallel orgs / raw 2 sync",
		"batched events/s"} {
		if v := metricValue(t, r, name); v <= 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
	raw := metricValue(t, r, "raw JetStream sync ×1: msgs/s")
	ours := metricValue(t, r, "sequential, batch 1: events/s")
	if got := metricValue(t, r, "sequential singles / raw sync"); got != ours/raw {
		t.Errorf("ratio %v, want %v / %v", got, ours, raw)
	}
	if m, _ := r.Metric("batched events/s"); m.Target != targetBatched {
		t.Errorf("batched target %q", m.Target)
	}
	// The in-process node's CPU is this process's: no per-publish row.
	if _, ok := r.Metric("daemon CPU µs per single publish"); ok {
		t.Errorf("daemon CPU per single publish reported for an in-process node")
	}
	if len(r.Tables) != 1 || len(r.Tables[0].Rows) != 3 || len(r.Tables[0].Columns) != 5 {
		t.Fatalf("tables %+v, want one of 3 rows and 5 columns (no natscli)", r.Tables)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "orgstream against raw JetStream") || !strings.Contains(md.String(), "standalone nats-server 2.15.2") {
		t.Errorf("markdown lacks the anchor:\n%s", md.String())
	}
}

// The rows from given figures: ratios, targets, the CPU row (a
// daemon in its own process) and natscli's column.
func TestPublishFiguresReport(t *testing.T) {
	var f publishFigures
	f.add(false, 1, 2000, cpuUsage{daemon: 0.6, secs: 5})
	f.add(true, 1, 8000, cpuUsage{daemon: 1.2, secs: 5})
	f.add(false, 1000, 90000, cpuUsage{daemon: 1, secs: 5})
	f.add(true, 1000, 120000, cpuUsage{daemon: 1, secs: 5})
	a := &AnchorResult{
		Sync:     AnchorShape{Name: AnchorSync, Publishers: 1, Rate: 8000, ServerCPUPerMsg: 50, Natscli: 7800},
		Parallel: AnchorShape{Name: AnchorParallel, Publishers: 16, Rate: 40000, ServerCPUPerMsg: 30},
		Async:    AnchorShape{Name: AnchorAsync, Publishers: 1, Rate: 150000, ServerCPUPerMsg: 10},
	}
	r := &Result{}
	f.report(r, a, 16, 500)
	for _, want := range []Metric{
		{Name: "sequential singles / raw sync", Value: 0.25, Unit: "×", Target: targetRatio},
		{Name: "16 parallel orgs / raw 16 sync", Value: 0.2, Unit: "×", Target: targetRatio},
		{Name: "batched events/s", Value: 120000, Unit: "events/s", Target: targetBatched},
		{Name: "daemon CPU µs per single publish", Value: 300, Unit: "µs", Target: targetSingleCPU},
	} {
		got, ok := r.Metric(want.Name)
		if !ok || got != want {
			t.Errorf("metric %+v, want %+v", got, want)
		}
	}
	if len(r.Tables) != 1 || len(r.Tables[0].Columns) != 6 || len(r.Tables[0].Rows) != 4 {
		t.Fatalf("table %+v, want 6 columns (natscli ran) and 4 rows (the CPU row)", r.Tables)
	}
	if row := r.Tables[0].Rows[0]; row[2] != "7800" || row[4] != "0.25" {
		t.Errorf("first row %q", row)
	}
	// Without an anchor: no ratios, the absolute rows stay.
	r = &Result{}
	f.report(r, nil, 16, 0)
	if _, ok := r.Metric("sequential singles / raw sync"); ok || len(r.Tables) != 0 {
		t.Errorf("ratios without an anchor: %+v", r)
	}
	if _, ok := r.Metric("daemon CPU µs per single publish"); !ok {
		t.Errorf("no CPU row without an anchor")
	}
}
