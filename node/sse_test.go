package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
)

// sseID is the id an event message carries.
func sseID(epoch string, seq uint64) string { return epoch + ":" + strconv.FormatUint(seq, 10) }

// openSSE opens an SSE stream and reads its retry field and welcome.
func openSSE(ctx context.Context, t *testing.T, u string, header http.Header) (*testkit.SSEClient, testkit.Frame) {
	t.Helper()
	c, err := testkit.DialSSE(ctx, u, header)
	if err != nil {
		t.Fatalf("sse: %v", err)
	}
	t.Cleanup(c.Close)
	first, err := c.Next()
	if err != nil {
		t.Fatalf("sse: first message: %v", err)
	}
	if first.Retry < 1000 || first.Retry >= 3000 || first.Data != "" {
		t.Fatalf("sse: first message %+v, want retry in [1000, 3000) ms and no data", first)
	}
	m, w, err := c.NextFrame()
	if err != nil || m.Event != "welcome" || w.Type != "welcome" || m.HasID {
		t.Fatalf("sse: welcome: %+v %v", m, err)
	}
	return c, w
}

// readSSEEvents reads n event messages and checks each one's id and event
// name against its JSON.
func readSSEEvents(t *testing.T, c *testkit.SSEClient, epoch string, n int) []testkit.Frame {
	t.Helper()
	var fs []testkit.Frame
	for len(fs) < n {
		m, f, err := c.NextFrame()
		if err != nil {
			t.Fatalf("sse: after %d events: %v", len(fs), err)
		}
		if m.Event != f.Type || f.Type != "event" {
			t.Fatalf("sse: message %+v, want an event", m)
		}
		if m.ID != sseID(epoch, f.Seq) {
			t.Fatalf("sse: id %q, want %q", m.ID, sseID(epoch, f.Seq))
		}
		fs = append(fs, f)
	}
	return fs
}

func seqsOf(fs []testkit.Frame) []uint64 {
	s := make([]uint64, len(fs))
	for i, f := range fs {
		s[i] = f.Seq
	}
	return s
}

// PROTOCOL.md "Server-Sent Events": the head, the retry field, welcome,
// replay and live events as SSE messages whose data is byte for byte the
// WebSocket frame's JSON, on one line, even when the publisher's data
// spans lines; the stream counts as a connection.
func TestSSEStream(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 3)
	_, epoch := n.Head(t, "acme")

	tok := n.Token(t, "acme", "alice", time.Hour, false)
	c, w := openSSE(ctx, t, n.SSEURL(tok, testkit.ResumeQuery(1, epoch)), http.Header{"Accept-Encoding": {"identity"}})
	h := c.Resp.Header
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" ||
		h.Get("X-Accel-Buffering") != "no" || h.Get("Content-Encoding") != "" {
		t.Fatalf("sse: head %v", h)
	}
	if !w.Resumed || w.Replay == nil || w.Replay.From != 2 || w.Replay.To != 3 || w.User != "alice" {
		t.Fatalf("sse: welcome %s", w.Raw)
	}
	testkit.AssertRange(t, seqsOf(readSSEEvents(t, c, epoch, 2)), 2, 3)
	waitFor(t, phase, "one connection counted", func() bool { return n.Metrics().Connections.Load() == 1 })

	// Live, next to a WebSocket of the same org: the same JSON.
	ws := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, "acme", "bob", time.Hour, false), nil), nil)
	defer ws.Close()
	ws.ExpectWelcome(ctx)
	testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.EventBody("multi.line", "{\n  \"a\": [1,\r\n 2]\n}", ""))
	got := readSSEEvents(t, c, epoch, 1)[0]
	want := ws.ExpectFrame(ctx, "event")
	if got.Seq != 4 || !bytes.Equal(got.Raw, bytes.ReplaceAll(bytes.ReplaceAll(want.Raw, []byte("\r"), []byte(" ")), []byte("\n"), []byte(" "))) {
		t.Fatalf("sse data %s, websocket frame %q", got.Raw, want.Raw)
	}
}

// PROTOCOL.md "Server-Sent Events": refusals before streaming have the
// stream's statuses and JSON bodies, 429 where a WebSocket would get 4029,
// and an Upgrade header changes nothing.
func TestSSERefusals(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) {
		c.MaxConnsPerUser = 1
		c.AllowedOrigins = []string{"https://app.example"}
	})
	ctx := ctxFor(t, phase)
	tok := n.Token(t, "acme", "alice", time.Hour, false)
	held, _ := openSSE(ctx, t, n.SSEURL(tok, nil), nil)
	defer held.Close()

	tests := []struct {
		name   string
		u      string
		header http.Header
		status int
		code   string
	}{
		{"no token", n.SSEURL("", nil), nil, 401, "missing_token"},
		{"bad token", n.SSEURL("nope", nil), nil, 401, "invalid_token"},
		{"expired token", n.SSEURL(n.Token(t, "acme", "bob", -time.Minute, false), nil), nil, 401, "token_expired"},
		{"bad last_seq", n.SSEURL(n.Token(t, "acme", "bob", time.Hour, false), url.Values{"last_seq": {"-1"}}), nil, 400, "invalid_query"},
		{"malformed Last-Event-ID", n.SSEURL(n.Token(t, "acme", "bob", time.Hour, false), nil),
			http.Header{"Last-Event-Id": {"e-1:x"}}, 400, "invalid_query"},
		{"Last-Event-ID without epoch separator", n.SSEURL(n.Token(t, "acme", "bob", time.Hour, false), nil),
			http.Header{"Last-Event-Id": {"17"}}, 400, "invalid_query"},
		{"origin not allowed", n.SSEURL(n.Token(t, "acme", "bob", time.Hour, false), nil),
			http.Header{"Origin": {"https://evil.example"}}, 403, "origin_not_allowed"},
		{"over the per-user limit", n.SSEURL(tok, nil), nil, 429, "too_many_connections"},
		{"over the limit, with an Upgrade header", n.SSEURL(tok, nil),
			http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, 429, "too_many_connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := testkit.DialSSE(ctx, tt.u, tt.header)
			if !errors.Is(err, testkit.ErrSSEStatus) {
				t.Fatalf("dial: %v, want a refusal", err)
			}
			defer c.Close()
			b, _ := io.ReadAll(c.Resp.Body)
			if c.Resp.StatusCode != tt.status || c.Resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s, want %d JSON", c.Resp.StatusCode, b, tt.status)
			}
			if e := decodeError(t, b); e.Code != tt.code {
				t.Fatalf("code %q, want %q", e.Code, tt.code)
			}
		})
	}

	// An allowed origin is echoed for a cross-origin EventSource, and an
	// Upgrade header does not make it a WebSocket.
	c, _ := openSSE(ctx, t, n.SSEURL(n.Token(t, "acme", "carol", time.Hour, false), nil),
		http.Header{"Origin": {"https://app.example"}, "Upgrade": {"websocket"}, "Connection": {"Upgrade"}})
	if got := c.Resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Fatalf("Access-Control-Allow-Origin %q", got)
	}
	if refused := n.Metrics().ConnectionsRefused.Load(); refused < uint64(len(tests)) {
		t.Fatalf("refused %d, want at least %d", refused, len(tests))
	}
}

// PROTOCOL.md "Server-Sent Events", resume: Last-Event-ID (what an
// EventSource sends) resumes across a restart of the daemon with no gap and
// no duplicate, and the query's last_seq wins over it.
func TestSSEResumeAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := testkit.StartNode(t, func(c *node.Config) { c.DataDir = dir })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 5)
	tok := n.Token(t, "acme", "alice", time.Hour, false)
	c, w := openSSE(ctx, t, n.SSEURL(tok, url.Values{"last_seq": {"0"}}), nil)
	epoch := w.Epoch
	first := readSSEEvents(t, c, epoch, 5)
	last := sseID(epoch, first[len(first)-1].Seq)
	n.Stop(t)
	if _, err := c.ReadToEnd(); err != nil {
		t.Fatalf("sse: end at shutdown: %v", err)
	}

	n2 := testkit.StartNode(t, func(c *node.Config) { c.DataDir, c.JWTSecret = dir, n.Secret })
	testkit.PublishBatch(t, n2.BaseURL(), "acme", pub, "x", 4)
	c2, w2 := openSSE(ctx, t, n2.SSEURL(tok, nil), http.Header{"Last-Event-Id": {last}})
	if !w2.Resumed || w2.Epoch != epoch || w2.Replay == nil || w2.Replay.From != 6 || w2.Replay.To != 9 {
		t.Fatalf("sse: welcome after restart %s", w2.Raw)
	}
	testkit.PublishBatch(t, n2.BaseURL(), "acme", pub, "x", 2)
	rest := readSSEEvents(t, c2, epoch, 6)
	testkit.AssertAll(t, append(seqsOf(first), seqsOf(rest)...), 11)

	// The query wins over the header.
	c3, w3 := openSSE(ctx, t, n2.SSEURL(tok, testkit.ResumeQuery(9, epoch)), http.Header{"Last-Event-Id": {sseID(epoch, 2)}})
	if w3.Replay == nil || w3.Replay.From != 10 {
		t.Fatalf("sse: the query's last_seq did not win: %s", w3.Raw)
	}
	testkit.AssertRange(t, seqsOf(readSSEEvents(t, c3, epoch, 2)), 10, 11)
}

// PROTOCOL.md "Server-Sent Events", gzip, and the ends: a client that
// accepts gzip reads one gzip member whose messages are each flushed as they
// come (the client reads each before the next is published); a drain ends
// every stream (plain and gzip) with the 1001 comment, and the gzip
// member's trailer checks out (compress/gzip verifies its CRC and length).
func TestSSEGzipAndDrain(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	hdr := http.Header{"Accept-Encoding": {"br;q=1, gzip;q=0.5"}}
	z, w := openSSE(ctx, t, n.SSEURL(n.Token(t, "acme", "alice", time.Hour, false), nil), hdr)
	if !z.Gzip {
		t.Fatalf("sse: not gzip: %v", z.Resp.Header)
	}
	plain, _ := openSSE(ctx, t, n.SSEURL(n.Token(t, "acme", "bob", time.Hour, false), nil),
		http.Header{"Accept-Encoding": {"gzip;q=0, *"}})
	if plain.Gzip {
		t.Fatal("sse: gzip;q=0 got gzip")
	}
	big := `{"pad":"` + strings.Repeat("abcdefgh", 300) + `"}` // over the deflate threshold too
	for i := range 5 {
		data := fmt.Sprintf(`{"i":%d}`, i)
		if i == 3 {
			data = big
		}
		seq := testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "x", data)
		for _, c := range []*testkit.SSEClient{z, plain} {
			f := readSSEEvents(t, c, w.Epoch, 1)[0]
			if f.Seq != seq || string(f.Data) != data {
				t.Fatalf("sse: event %s, want seq %d data %s", f.Raw, seq, data)
			}
		}
	}
	n.Stop(t)
	for name, c := range map[string]*testkit.SSEClient{"gzip": z, "plain": plain} {
		ms, err := c.ReadToEnd()
		if err != nil {
			t.Fatalf("%s: end: %v", name, err)
		}
		if len(ms) != 1 || len(ms[0].Comments) != 1 || !strings.HasPrefix(ms[0].Comments[0], "close 1001") {
			t.Fatalf("%s: end %+v, want the 1001 comment", name, ms)
		}
	}
}

// PROTOCOL.md "Server-Sent Events": a ": ping" comment at least every ping
// interval, and the stream ends when its token expires (the 4001 comment).
func TestSSEPingAndTokenExpiry(t *testing.T) {
	t.Parallel()
	const ping = 200 * time.Millisecond
	n := testkit.StartNode(t, func(c *node.Config) { c.PingInterval = ping })
	ctx := ctxFor(t, phase)
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			var hdr http.Header
			if gz {
				hdr = http.Header{"Accept-Encoding": {"gzip"}}
			}
			c, _ := openSSE(ctx, t, n.SSEURL(n.Token(t, "acme", "alice", 1500*time.Millisecond, false), nil), hdr)
			if c.Gzip != gz {
				t.Fatalf("gzip %v", c.Gzip)
			}
			ms, err := c.ReadToEnd()
			if err != nil {
				t.Fatalf("sse: end: %v", err)
			}
			pings := 0
			for _, m := range ms[:len(ms)-1] {
				if len(m.Comments) != 1 || m.Comments[0] != "ping" || m.Data != "" {
					t.Fatalf("sse: message %+v, want only pings before the end", m)
				}
				pings++
			}
			if pings < 2 {
				t.Fatalf("sse: %d pings in 1.5s with a %v interval", pings, ping)
			}
			end := ms[len(ms)-1]
			if len(end.Comments) != 1 || !strings.HasPrefix(end.Comments[0], "close 4001") {
				t.Fatalf("sse: end %+v, want the 4001 comment", end)
			}
		})
	}
}

// DESIGN.md invariant 7 for SSE: a client that stops reading while its org
// is flooded is cut like a WebSocket with 4008 (counted); what it read is a
// prefix without a gap, and the body then ends: with the 4008 comment when
// its outbox overflowed, or mid-message when a write to it timed out first
// (--write-timeout, also a 4008: on a loaded box publishing the flood can
// take longer). (Uncompressed: after a cut the gzip member has no trailer,
// as the blocks the outbox dropped are missing from it.)
func TestSSESlowConsumerCut(t *testing.T) {
	t.Parallel()
	// The smallest queue the node accepts: a flood of a few MiB cuts.
	n := testkit.StartNode(t, func(c *node.Config) { c.MaxQueueBytes = messages.MaxPublishFrames })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "flood", "backend", time.Hour, true)
	c, err := testkit.SSEDialer{RecvBuffer: 8 << 10, Header: http.Header{"Accept-Encoding": {"identity"}}}.Dial(ctx,
		n.SSEURL(n.Token(t, "flood", "slow", time.Hour, false), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, phase, "connected", func() bool { return n.Metrics().Connections.Load() == 1 })
	body := `{"events":[` + strings.TrimSuffix(strings.Repeat(testkit.EventBody("x", `"`+strings.Repeat("z", 4000)+`"`, "")+",", 200), ",") + `]}`
	for n.Metrics().SlowConsumerCuts.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("never cut")
		}
		testkit.Publish(t, n.BaseURL(), "flood", pub, body)
	}
	var seqs []uint64
	var last testkit.SSEMessage
	timedOut := false
	for {
		m, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			timedOut = true
			t.Logf("sse: the body stopped mid-message after %d events: a write timed out before the outbox overflowed", len(seqs))
			break
		}
		if err != nil {
			t.Fatalf("sse: after %d events: %v", len(seqs), err)
		}
		last = m
		if m.Event == "event" {
			f, err := testkit.DecodeFrame([]byte(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, f.Seq)
		}
	}
	if len(seqs) > 0 {
		testkit.AssertRange(t, seqs, 1, seqs[len(seqs)-1])
	}
	if !timedOut && (len(last.Comments) != 1 || !strings.HasPrefix(last.Comments[0], "close 4008")) {
		t.Fatalf("sse: end %+v, want the 4008 comment", last)
	}
	waitFor(t, phase, "the cut connection gone", func() bool { return n.Metrics().Connections.Load() == 0 })
}
