package node_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
)

// payload returns a JSON string value of about n bytes (compressible but
// not trivially so).
func payload(n int) string {
	var b strings.Builder
	b.WriteString(`{"blob":"`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d-", i*7919%100003)
	}
	b.WriteString(`"}`)
	return b.String()
}

// PROTOCOL.md "Subscribing": permessage-deflate is negotiated when the
// client offers it (whatever context-takeover mode it asks for), and events
// small and large decode to the publisher's bytes.
func TestDeflateNegotiatedAndDecoded(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	modes := []struct {
		name    string
		mode    websocket.CompressionMode
		deflate bool
	}{
		{"context takeover", websocket.CompressionContextTakeover, true},
		{"no context takeover", websocket.CompressionNoContextTakeover, true},
		{"disabled", websocket.CompressionDisabled, false},
	}
	clients := make([]*testkit.Client, len(modes))
	for i, m := range modes {
		c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, "acme", "alice", time.Hour, false), nil),
			&websocket.DialOptions{CompressionMode: m.mode, CompressionThreshold: 1})
		ext := c.Resp.Header.Get("Sec-WebSocket-Extensions")
		if got := strings.Contains(ext, "permessage-deflate"); got != m.deflate {
			t.Fatalf("%s: Sec-WebSocket-Extensions %q, want deflate %v", m.name, ext, m.deflate)
		}
		c.ExpectWelcome(ctx)
		clients[i] = c
	}
	datas := []string{`{"s":1}`, payload(900), payload(1100), payload(4 << 10), payload(4 << 10), payload(60 << 10), payload(900 << 10), `[1]`}
	for _, d := range datas {
		testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "t", d)
	}
	for i, c := range clients {
		evs, err := c.CollectEvents(ctx, len(datas))
		if err != nil {
			t.Fatalf("%s: %v", modes[i].name, err)
		}
		for k, e := range evs {
			if e.Seq != uint64(k+1) || !bytes.Equal(e.Data, []byte(datas[k])) {
				t.Fatalf("%s: event %d (seq %d, %d bytes of data) differs from what was published (%d bytes)",
					modes[i].name, k, e.Seq, len(e.Data), len(datas[k]))
			}
		}
	}
}

// PROTOCOL.md "Subscribing": frames whose payload is over 1 KiB are sent
// compressed, smaller ones plain (checked on the wire, RSV1); without the
// extension nothing is compressed.
func TestDeflateThreshold(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	u := n.StreamURL(n.Token(t, "acme", "alice", time.Hour, false), nil)
	withDeflate, err := testkit.RawDial(ctx, u, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer withDeflate.Close()
	plain, err := testkit.RawDial(ctx, u, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if !withDeflate.Deflate || plain.Deflate {
		t.Fatalf("negotiated deflate %v / %v, want true / false", withDeflate.Deflate, plain.Deflate)
	}
	datas := []string{`{"s":1}`, payload(700), payload(1500), payload(4 << 10), `{"s":2}`, payload(64 << 10)}
	for _, d := range datas {
		testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "t", d)
	}
	deadline := time.Now().Add(phase)
	for _, c := range []*testkit.RawClient{withDeflate, plain} {
		if f, _, err := c.ReadDataFrame(deadline); err != nil || f.Type != "welcome" {
			t.Fatalf("welcome: %v %s", err, f.Raw)
		}
		for k, d := range datas {
			f, m, err := c.ReadDataFrame(deadline)
			if err != nil {
				t.Fatalf("event %d: %v", k, err)
			}
			if !bytes.Equal(f.Data, []byte(d)) {
				t.Fatalf("event %d: data differs", k)
			}
			wantCompressed := c.Deflate && len(m.Payload) > 1024
			if m.Compressed != wantCompressed {
				t.Errorf("deflate %v, event %d of %d bytes: compressed %v, want %v",
					c.Deflate, k, len(m.Payload), m.Compressed, wantCompressed)
			}
			if m.Compressed && m.WireLen >= len(m.Payload) {
				t.Errorf("event %d: compressed %d bytes to %d", k, len(m.Payload), m.WireLen)
			}
		}
	}
}
