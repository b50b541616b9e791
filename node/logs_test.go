package node_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// DESIGN.md invariant 10 (and COMMON rules): tokens never reach the logs.
// A node logging at debug level serves accepted and refused streams and
// publishes with tokens in the query, the Authorization header and even the
// path; no log entry contains any of them, nor the payload or signature
// part of one.
func TestLogsHaveNoTokens(t *testing.T) {
	t.Parallel()
	// Entries are encoded when logged, as the daemon's own logger does
	// (an observer would read logged objects later, racing with their
	// owners).
	var out lockedBuffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	n := testkit.StartNode(t, func(c *node.Config) {
		c.Logger = zap.New(zapcore.NewCore(enc, zapcore.AddSync(&out), zapcore.DebugLevel))
		c.AllowedOrigins = []string{"https://app.example"}
		c.MaxConnsPerUser = 1
	})
	ctx := ctxFor(t, phase)
	var tokens []string
	tok := func(org, sub string, ttl time.Duration, publish bool) string {
		s := n.Token(t, org, sub, ttl, publish)
		tokens = append(tokens, s)
		return s
	}
	foreign := testkit.Token(t, []byte("another secret, another issuer!!"), "acme", "eve", time.Hour, true)
	tokens = append(tokens, foreign)

	// Streams: accepted (query, header), refused for every reason, 4029.
	good := tok("acme", "alice", time.Hour, false)
	c := testkit.Dial(ctx, t, n.StreamURL(good, nil), nil)
	c.ExpectWelcome(ctx)
	extra := testkit.Dial(ctx, t, n.StreamURL(good, nil), nil) // 4029
	if _, err := extra.ReadFrame(ctx); testkit.CloseCode(err) != 4029 {
		t.Fatalf("want 4029: %v", err)
	}
	hdrTok := tok("acme", "bob", time.Hour, false)
	h := testkit.Dial(ctx, t, n.StreamURL("", nil), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + hdrTok}},
	})
	h.ExpectWelcome(ctx)
	refused := []struct {
		q      url.Values
		header http.Header
		plain  bool
	}{
		{url.Values{"access_token": {tok("acme", "carol", time.Hour, false)}, "last_seq": {"x"}}, nil, false},
		{url.Values{"access_token": {tok("acme", "dave", -time.Minute, false)}}, nil, false},
		{url.Values{"access_token": {foreign}}, nil, false},
		{url.Values{"access_token": {tok("acme", "erin", time.Hour, false)}}, http.Header{"Origin": {"https://evil.example"}}, false},
		{url.Values{"access_token": {tok("acme", "frank", time.Hour, false)}}, nil, true},
		{nil, http.Header{"Authorization": {"Bearer " + foreign}}, false},
	}
	for _, r := range refused {
		resp, body := upgradeRequest(t, n.StreamURL("", r.q), r.header, r.plain)
		if resp.StatusCode < 400 {
			t.Fatalf("expected a refusal, got %d %s", resp.StatusCode, body)
		}
	}

	// Publishes: accepted, refused, a token in the path of a 404.
	pub := tok("acme", "backend", time.Hour, true)
	testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "t", `{}`)
	for _, tk := range []string{foreign, tok("globex", "backend", time.Hour, true), tok("acme", "backend", -time.Minute, true), tok("acme", "sub", time.Hour, false)} {
		if st, _ := testkit.Publish(t, n.BaseURL(), "acme", tk, testkit.EventBody("t", `{}`, "")); st < 400 {
			t.Fatalf("publish with a bad token: %d", st)
		}
	}
	if st, _ := testkit.Publish(t, n.BaseURL(), "acme", pub, `{"topic":`); st != 400 {
		t.Fatalf("malformed publish: %d", st)
	}
	for _, p := range []string{
		"/v2/realtime/orgs/" + foreign + "/events",
		"/nope/" + foreign + "?access_token=" + foreign,
		"/v2/realtime/metrics?access_token=" + foreign,
	} {
		if st, _ := get(t, n.BaseURL()+p); st == 0 {
			t.Fatalf("GET %s failed", p)
		}
	}
	c.Close()
	h.Close()
	waitFor(t, phase, "streams closed", func() bool { return n.Metrics().Connections.Load() == 0 })
	n.Stop(t) // so that shutdown logs are in too

	entries := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(entries) < 10 {
		t.Fatalf("only %d log entries: the observer is not wired", len(entries))
	}
	var secrets []string
	for _, s := range tokens {
		secrets = append(secrets, s)
		parts := strings.Split(s, ".")
		secrets = append(secrets, parts[1], parts[2]) // claims, signature
	}
	for _, line := range entries {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Fatalf("log entry contains (part of) a token: %s", line)
			}
		}
	}
	t.Logf("%d log entries checked against %d tokens", len(entries), len(tokens))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
