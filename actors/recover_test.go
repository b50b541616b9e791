package actors

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// readCounter counts the reads of the real log it wraps.
type readCounter struct {
	persistence.Log
	reads atomic.Int64
}

func (l *readCounter) Read(ctx context.Context, org string, from uint64, n int) ([]messages.Event, error) {
	l.reads.Add(1)
	return l.Log.Read(ctx, org, from, n)
}

// An org whose newest --window-size events are more than one log read
// (persistence.ReadMaxBytes) starts with its window full of the newest events
// that fit --window-bytes, not empty: a resume within them is served from
// memory, without reading the log.
func TestRecoveredWindowHoldsTheNewestBytes(t *testing.T) {
	mem := persistence.NewMemory(persistence.MemoryConfig{})
	defer func() { _ = mem.Close() }()
	ctx := context.Background()
	data := json.RawMessage(`"` + strings.Repeat("x", 50<<10) + `"`)
	const events = 400 // 20 MB: three reads of 8 MiB
	for range events / 10 {
		hd, err := mem.Head(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		drafts := make([]messages.Draft, 10)
		for i := range drafts {
			drafts[i] = messages.Draft{Topic: "t", Data: data}
		}
		if _, err := mem.Append(ctx, "acme", hd, drafts); err != nil {
			t.Fatal(err)
		}
	}
	log := &readCounter{Log: mem}
	h, err := NewHub(Config{Log: log, WindowBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()

	first := openStream(t, h) // starts the org: its window is recovered
	defer first.Close()
	readWelcome(t, first)
	recovered := log.reads.Load()

	const last = events - 10
	c := openStreamAs(t, h, messages.Stream{Org: "acme", User: "bob", Expiry: time.Now().Add(time.Hour),
		Resume: true, LastSeq: last, Epoch: mem.Epoch()})
	defer c.Close()
	readWelcome(t, c)
	for want := uint64(last + 1); want <= events; want++ {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, payload, err := readServerFrame(c)
		if err != nil {
			t.Fatalf("event %d: %v", want, err)
		}
		var ev struct{ Seq uint64 }
		if err := json.Unmarshal(payload, &ev); err != nil || ev.Seq != want {
			t.Fatalf("got %.60s, want event %d", payload, want)
		}
	}
	if n := log.reads.Load() - recovered; n != 0 {
		t.Fatalf("a resume 10 events back read the log %d times: the recovered window does not hold them", n)
	}
	if recovered > 3 {
		t.Fatalf("recovery read the log %d times, want at most 3 (one read, then the newest 2 MiB)", recovered)
	}
}
