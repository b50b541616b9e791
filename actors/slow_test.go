package actors

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/persistence"
)

// A client that stops reading while its org is flooded is one slow
// consumer, counted once: by the overflow of its outbox, not again when the
// write blocked behind it times out.
func TestSlowConsumerCountedOnce(t *testing.T) {
	mem := persistence.NewMemory(persistence.MemoryConfig{})
	m := metrics.New()
	h, err := NewHub(Config{Log: mem, Metrics: m, MaxQueueBytes: 64 << 10, WriteTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	c := openStream(t, h) // never read after the welcome
	defer c.Close()
	readWelcome(t, c)

	ctx := context.Background()
	data := json.RawMessage(`"` + strings.Repeat("x", 4000) + `"`)
	// Batches smaller than the outbox, a little apart: the connection
	// writes them until the socket buffers are full and a write blocks;
	// only then does the outbox overflow.
	drafts := make([]messages.Draft, 10)
	for i := range drafts {
		drafts[i] = messages.Draft{Topic: "flood", Data: data}
	}
	for m.SlowConsumerCuts.Load() == 0 {
		hd, err := mem.Head(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if hd.Seq > 100_000 {
			t.Fatal("no cut after 100,000 events of 4 KB")
		}
		if _, err := mem.Append(ctx, "acme", hd, drafts); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.snapshot(nil)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow connection was not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := m.SlowConsumerCuts.Load(); n != 1 {
		t.Fatalf("slow consumer counted %d times, want 1", n)
	}
}
