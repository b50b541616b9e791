package node_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// pingInterval is short for the tests; the one a client must keep up with
// is longer, so that a loaded -race run does not starve its pong past two
// intervals.
const (
	pingInterval         = 300 * time.Millisecond
	answeredPingInterval = 500 * time.Millisecond
)

// PROTOCOL.md "Heartbeat": the server sends WebSocket pings; a client that
// answers them stays connected over many intervals (events keep flowing).
func TestHeartbeatAnsweredStaysOpen(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.PingInterval = answeredPingInterval })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	raw, err := testkit.RawDial(ctx, n.StreamURL(n.Token(t, "acme", "raw", time.Hour, false), nil), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// coder/websocket answers pings by itself while it reads.
	lib, _ := subscriber(ctx, t, n, "acme", "lib")

	// Keep the library client reading in the background.
	libSeqs := make(chan []uint64, 1)
	libErr := make(chan error, 1)
	const events = 10
	go func() {
		s, err := lib.CollectSeqs(ctx, events)
		libSeqs <- s
		libErr <- err
	}()

	pings, seqs := 0, []uint64(nil)
	start := time.Now()
	next := start
	hold := 8 * answeredPingInterval
	for published := 0; time.Since(start) < hold || len(seqs) < events; {
		if published < events && time.Now().After(next) {
			testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "t", `{}`)
			published++
			next = next.Add(hold / events)
		}
		m, err := raw.ReadMessage(time.Now().Add(100 * time.Millisecond))
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			if time.Since(start) > phase {
				t.Fatalf("stuck after %d events", len(seqs))
			}
			continue
		}
		if err != nil {
			t.Fatalf("raw client after %v, %d pings: %v", time.Since(start), pings, err)
		}
		switch m.OpCode {
		case ws.OpPing:
			pings++
			if err := raw.WriteFrame(ws.NewPongFrame(m.Payload), time.Now().Add(phase)); err != nil {
				t.Fatal(err)
			}
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(m.Payload)
			t.Fatalf("raw client answering pings closed after %v with %d %q (%d pings)", time.Since(start), code, reason, pings)
		case ws.OpText:
			f, err := testkit.DecodeFrame(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if f.Type == "event" {
				seqs = append(seqs, f.Seq)
			}
		}
	}
	testkit.AssertRange(t, seqs, 1, events)
	if pings < 2 {
		t.Errorf("%d pings in %v with a %v interval", pings, hold, answeredPingInterval)
	}
	if err := <-libErr; err != nil {
		t.Fatalf("library client: %v", err)
	}
	testkit.AssertRange(t, <-libSeqs, 1, events)
	t.Logf("%d pings in %v", pings, time.Since(start))
}

// PROTOCOL.md "Heartbeat": a connection that answers no ping for two
// intervals is closed.
func TestHeartbeatUnansweredCloses(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.PingInterval = pingInterval })
	ctx := ctxFor(t, phase)
	url := n.StreamURL(n.Token(t, "acme", "mute", time.Hour, false), nil)
	// The server starts the silence clock when it accepts the connection,
	// which is before the dial returns here (by tens of ms under -race on a
	// busy machine): timing from before the dial is the bound that holds.
	start := time.Now()
	raw, err := testkit.RawDial(ctx, url, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	pings := 0
	for {
		m, err := raw.ReadMessage(time.Now().Add(phase))
		if err != nil {
			// Closed without a close frame: acceptable, it is closed.
			t.Logf("ended without a close frame: %v", err)
			break
		}
		if m.OpCode == ws.OpPing {
			pings++ // never answered
		}
		if m.OpCode == ws.OpClose {
			code, reason := ws.ParseCloseFrameData(m.Payload)
			t.Logf("closed with %d %q after %d unanswered pings", code, reason, pings)
			break
		}
	}
	if el := time.Since(start); el < 2*pingInterval {
		t.Errorf("closed after %v, before two intervals of %v", el, pingInterval)
	}
	if pings == 0 {
		t.Errorf("closed without having been pinged")
	}
}
