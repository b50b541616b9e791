package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// laggingLog is a log as a lagging replica serves it: reads see only the
// events up to visible, and the live feed holds back the others until they
// become visible (for at most a few seconds). LeaderHead, like a stream
// leader, sees everything. A fake: a replica that lags its leader cannot be
// provoked on demand with an in-process server.
type laggingLog struct {
	persistence.Log
	visible atomic.Uint64
}

func (l *laggingLog) Head(ctx context.Context, org string) (persistence.Head, error) {
	h, err := l.Log.Head(ctx, org)
	h.Seq = min(h.Seq, l.visible.Load())
	return h, err
}

func (l *laggingLog) Bounds(ctx context.Context, org string) (uint64, uint64, error) {
	first, head, err := l.Log.Bounds(ctx, org)
	return first, min(head, l.visible.Load()), err
}

func (l *laggingLog) Read(ctx context.Context, org string, from uint64, n int) ([]messages.Event, error) {
	evs, err := l.Log.Read(ctx, org, from, n)
	for i := range evs {
		if evs[i].Seq > l.visible.Load() {
			return evs[:i], err
		}
	}
	return evs, err
}

func (l *laggingLog) Follow(org string, after uint64, fn func(messages.Event)) (persistence.Follower, error) {
	return l.Log.Follow(org, after, func(ev messages.Event) {
		for deadline := time.Now().Add(5 * time.Second); ev.Seq > l.visible.Load() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		fn(ev)
	})
}

// A client read seq 10 on another node and resumes here, where the replica
// has only 7: it is resumed (the leader knows 10), not refused with
// invalid_position, and gets 11 next.
func TestResumeAheadOfLaggingReplica(t *testing.T) {
	mem := persistence.NewMemory(persistence.MemoryConfig{})
	ctx := context.Background()
	for i := range 10 {
		h, err := mem.Head(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mem.Append(ctx, "acme", h, []messages.Draft{{Topic: "t", Data: json.RawMessage(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	lag := &laggingLog{Log: mem}
	lag.visible.Store(7)
	h, err := NewHub(Config{Log: lag})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()

	c := openStreamAs(t, h, messages.Stream{
		Org: "acme", User: "alice", Expiry: time.Now().Add(time.Hour),
		Resume: true, LastSeq: 10, Epoch: mem.Epoch(),
	})
	defer c.Close()
	var w struct {
		Type    string `json:"type"`
		Head    uint64 `json:"head"`
		Resumed bool   `json:"resumed"`
	}
	readJSON(t, c, &w)
	if w.Type != "welcome" || !w.Resumed || w.Head != 10 {
		t.Fatalf("welcome = %+v, want resumed with head 10", w)
	}
	lag.visible.Store(1 << 62)
	hd, err := mem.Head(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Append(ctx, "acme", hd, []messages.Draft{{Topic: "t", Data: json.RawMessage(`11`)}}); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
	}
	readJSON(t, c, &ev)
	if ev.Type != "event" || ev.Seq != 11 {
		t.Fatalf("after the welcome: %+v, want event 11", ev)
	}
}

// readJSON reads the next text frame into v.
func readJSON(t *testing.T, c net.Conn, v any) {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		fh, p, err := readServerFrame(c)
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if fh.OpCode != ws.OpText {
			continue
		}
		if err := json.Unmarshal(p, v); err != nil {
			t.Fatalf("frame %s: %v", p, err)
		}
		return
	}
}
