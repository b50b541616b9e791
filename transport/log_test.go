package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestLogsNeverContainTokens sends tokens in the query and in the
// Authorization header, on refused and accepted requests of every kind,
// with Debug logging on, and checks that no log entry carries them.
func TestLogsNeverContainTokens(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	env := newTestEnv(t, func(c *Config) {
		c.Logger = zap.New(core)
		c.AllowedOrigins = []string{"https://app.example"}
	})
	good := issue(t, "acme", "alice", "", time.Hour)
	pub := issue(t, "acme", "svc", "publish", time.Hour)
	expired := issue(t, "acme", "alice", "", -time.Minute)
	garbage := "eyJnotreally.sekrit-garbage-token.zzz"
	secrets := []string{good, pub, expired, garbage}

	// Streams: accepted (query, header), refused (each reason).
	for _, opt := range []*websocket.DialOptions{
		nil,
		{HTTPHeader: http.Header{"Authorization": {"Bearer " + good}}},
	} {
		q := "?access_token=" + good
		if opt != nil {
			q = ""
		}
		c, _, err := dialStream(t, env, q, opt)
		if err != nil {
			t.Fatal(err)
		}
		env.streams.expectOpened(t)
		readHello(t, c, "hello acme alice")
	}
	for _, req := range []string{
		upgradeRequest(StreamPath + "?access_token=" + garbage),
		upgradeRequest(StreamPath + "?access_token=" + expired),
		upgradeRequest(StreamPath + "?last_seq=x&access_token=" + good),
		upgradeRequest(StreamPath, "Authorization: Bearer "+garbage),
		upgradeRequest(StreamPath+"?access_token="+good, "Origin: https://evil.example"),
		"GET " + StreamPath + "?access_token=" + good + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /nope?access_token=" + good + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + pub + "\r\n\r\n",
		"BAD REQUEST?access_token=" + good + "\r\n\r\n",
	} {
		rawExchange(t, env.addr, req)
	}
	// Publishes: accepted and refused, header tokens and query tokens.
	postEvents(t, env, "acme", pub, oneEvent, nil)
	postEvents(t, env, "acme", garbage, oneEvent, nil)
	postEvents(t, env, "acme", good, oneEvent, nil) // subscribe scope: 403
	postEvents(t, env, "acme", pub, `{"broken`, nil)
	postEvents(t, env, "acme?access_token="+good, pub, oneEvent, nil)
	resp, err := env.client.Get(env.url("/healthz?access_token=" + good))
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	entries := logs.AllUntimed()
	if len(entries) < 10 {
		t.Fatalf("only %d log entries; the test exercises too little", len(entries))
	}
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	var refused int
	for _, e := range entries {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		for _, s := range secrets {
			if strings.Contains(line, s) || strings.Contains(line, s[:20]) {
				t.Errorf("log entry leaks a token: %s", line)
			}
		}
		if e.Message == "request refused" {
			refused++
			fields := e.ContextMap()
			for _, k := range []string{"status", "code", "remote"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("refusal entry lacks %q: %s", k, line)
				}
			}
		}
	}
	if refused < 9 {
		t.Errorf("%d refusal entries, want at least 9", refused)
	}
	var sawAccess bool
	for _, e := range logs.FilterMessage("http request").AllUntimed() {
		sawAccess = true
		if bytes.Contains([]byte(e.ContextMap()["path"].(string)), []byte("?")) {
			t.Errorf("access log path has a query: %v", e.ContextMap())
		}
	}
	if !sawAccess {
		t.Error("no access log entry at Debug")
	}
}
