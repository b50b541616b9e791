package node_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// TestIdleConnectionsHoldNoGoroutine pins DESIGN.md invariant 6: an idle
// stream is watched by the poller, not by a goroutine of its own. The raw
// clients start no goroutines, so the process's goroutine count measures the
// server side.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	n := testkit.StartNode(t, func(c *node.Config) { c.MaxConnsPerUser = 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok := n.Token(t, "idle", "u", time.Hour, false)

	// One stream first so the org actor, its feed and its writer exist.
	first, err := testkit.RawDial(ctx, n.StreamURL(tok, nil), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, _, err := first.ReadDataFrame(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		// Short-lived goroutines (handshakes, actor mailbox runs) end soon.
		time.Sleep(300 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()

	const conns = 200
	clients := make([]*testkit.RawClient, 0, conns)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range conns {
		c, err := testkit.RawDial(ctx, n.StreamURL(tok, nil), nil, false)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if _, _, err := c.ReadDataFrame(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatalf("welcome: %v", err)
		}
	}
	var after int
	for range 10 { // let mailbox goroutines of the welcomes wind down
		if after = settle(); after-before < conns/10 {
			break
		}
	}
	if grown := after - before; grown >= conns/10 {
		t.Fatalf("%d idle streams added %d goroutines, want about none", conns, grown)
	}
	if got := n.Metrics().Connections.Load(); got != conns+1 {
		t.Fatalf("connections = %d, want %d", got, conns+1)
	}
}
