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
		Anchor: &AnchorConfig{Window: 50}})
	requireOK(t, r, err)
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
	if len(r.Tables) != 1 || len(r.Tables[0].Rows) != 3 {
		t.Fatalf("tables %+v, want one of 3 rows", r.Tables)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "orgstream against raw JetStream") || !strings.Contains(md.String(), "standalone nats-server 2.15.2") {
		t.Errorf("markdown lacks the anchor:\n%s", md.String())
	}
}
