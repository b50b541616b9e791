package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestLogsHaveNoTokens: tokens sent in query strings and headers, on
// accepted and refused streams and publishes, never show up in the daemon's
// output (debug level, through a SIGTERM shutdown), neither whole nor their
// signature.
func TestLogsHaveNoTokens(t *testing.T) {
	closeIdle(t)
	d := startDaemon(t, spec{Args: []string{"--log-level", "debug"}})
	secret := d.secret(t)
	other := []byte("not-the-daemons-secret-0123456789")
	ctx := phase(t)

	sub := testkit.Token(t, secret, "acme", "alice", time.Hour, false)
	pub := testkit.Token(t, secret, "acme", "backend", time.Hour, true)
	anyPub := testkit.Token(t, secret, "*", "backend", time.Hour, true)
	expired := testkit.Token(t, secret, "acme", "alice", -time.Minute, false)
	foreign := testkit.Token(t, other, "acme", "alice", time.Hour, false)
	foreignPub := testkit.Token(t, other, "acme", "backend", time.Hour, true)
	tampered := sub[:len(sub)-4] + flip(sub[len(sub)-4:])
	tokens := map[string]string{
		"subscribe": sub, "publish": pub, "publish any org": anyPub, "expired": expired,
		"foreign": foreign, "foreign publish": foreignPub, "tampered": tampered,
	}

	stream := func(token string, q url.Values, header bool, want int) {
		t.Helper()
		u := testkit.StreamURL(d.Base, token, q)
		var opts *websocket.DialOptions
		if header {
			u = testkit.StreamURL(d.Base, "", q)
			opts = bearer(token)
		}
		c, resp, err := testkit.DialErr(ctx, u, opts)
		if want == http.StatusSwitchingProtocols {
			if err != nil {
				t.Fatalf("stream: %v (status %d)", err, statusOf(resp))
			}
			if _, err := c.ReadWelcome(ctx); err != nil {
				t.Fatalf("stream: %v", err)
			}
			c.Close()
			return
		}
		if err == nil {
			c.Close()
			t.Fatalf("stream accepted, want %d", want)
		}
		if statusOf(resp) != want {
			t.Fatalf("stream: status %d, want %d (%v)", statusOf(resp), want, err)
		}
	}
	stream(sub, nil, false, http.StatusSwitchingProtocols)
	stream(pub, nil, false, http.StatusSwitchingProtocols)
	stream(sub, nil, true, http.StatusSwitchingProtocols)
	stream(sub, url.Values{"last_seq": {"-1"}}, false, http.StatusBadRequest)
	stream(sub, url.Values{"last_seq": {"x"}}, true, http.StatusBadRequest)
	stream(expired, nil, false, http.StatusUnauthorized)
	stream(foreign, nil, false, http.StatusUnauthorized)
	stream(foreign, nil, true, http.StatusUnauthorized)
	stream(tampered, nil, false, http.StatusUnauthorized)

	// Plain GETs; PROTOCOL.md does not order the 401 and 426 checks.
	get := func(path string, want ...int) {
		t.Helper()
		resp, err := http.Get(d.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !slices.Contains(want, resp.StatusCode) {
			t.Fatalf("GET %s: %d, want one of %v", path, resp.StatusCode, want)
		}
	}
	get("/v2/realtime/stream?access_token="+sub, http.StatusUpgradeRequired)
	get("/v2/realtime/stream?access_token="+expired, http.StatusUnauthorized, http.StatusUpgradeRequired)
	get("/no/such/path?access_token="+sub, http.StatusNotFound)

	publish := func(org, header, query string, want int) {
		t.Helper()
		u := testkit.PublishURL(d.Base, org)
		if query != "" {
			u += "?access_token=" + query
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(testkit.EventBody("t", `{"x":1}`, "")))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set("Authorization", "Bearer "+header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("publish to %s: %d, want %d", org, resp.StatusCode, want)
		}
	}
	publish("acme", pub, "", http.StatusCreated)
	publish("other", anyPub, "", http.StatusCreated)
	publish("acme", pub, pub, http.StatusCreated)
	publish("acme", "", pub, http.StatusUnauthorized) // a query token is not a publish credential
	publish("acme", sub, sub, http.StatusForbidden)
	publish("other", pub, "", http.StatusForbidden)
	publish("acme", foreignPub, foreignPub, http.StatusUnauthorized)
	publish("acme", expired, "", http.StatusUnauthorized)
	publish("acme", tampered, tampered, http.StatusUnauthorized)

	// A connection open at shutdown is closed and logged too.
	c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, sub, nil), nil)
	c.ExpectWelcome(ctx)
	code, took, err := d.Terminate(20 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	t.Logf("exited in %s after SIGTERM", took)

	out := d.Output()
	for name, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(out, tok) {
			t.Errorf("the %s token is in the daemon's output", name)
		} else if strings.Contains(out, sig) {
			t.Errorf("the signature of the %s token is in the daemon's output", name)
		}
	}
}

// bearer is dial options sending token in the Authorization header.
func bearer(token string) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}}
}

// flip changes every character of s (staying in base64url).
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}
