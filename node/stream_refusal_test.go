package node_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// upgradeRequest sends a WebSocket upgrade GET (or a plain GET when plain)
// and returns the response with its body read.
func upgradeRequest(t *testing.T, u string, header http.Header, plain bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, strings.Replace(u, "ws://", "http://", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !plain {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET stream: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, b
}

// expectRefused checks a refusal before the upgrade: the status, a JSON
// {"error","code"} body, and no 101.
func expectRefused(t *testing.T, resp *http.Response, body []byte, status int) testkit.ErrorBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != "" {
		t.Errorf("refusal carries Sec-WebSocket-Accept")
	}
	return decodeError(t, body)
}

// PROTOCOL.md "Subscribing": refused before the upgrade with a JSON body:
// 400 bad query, 401 missing/invalid/expired token, 403 origin not allowed,
// 426 not a WebSocket upgrade (503 draining is in TestDrain). No WebSocket
// is opened, and nothing counts as a connection.
func TestStreamRefusals(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) {
		c.AllowedOrigins = []string{"https://app.example", "https://other.example"}
	})
	ok := n.Token(t, "acme", "alice", time.Hour, false)
	streamURL := func(q url.Values) string { return n.StreamURL("", q) }
	withToken := func(extra ...string) url.Values {
		v := url.Values{"access_token": {ok}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	otherSecret := testkit.Token(t, []byte("another secret, another issuer!!"), "acme", "alice", time.Hour, false)

	cases := []struct {
		name   string
		q      url.Values
		header http.Header
		plain  bool
		status int
	}{
		{"last_seq negative", withToken("last_seq", "-1"), nil, false, 400},
		{"last_seq not a number", withToken("last_seq", "abc"), nil, false, 400},
		{"last_seq fraction", withToken("last_seq", "1.5"), nil, false, 400},
		{"last_seq overflow", withToken("last_seq", "99999999999999999999999"), nil, false, 400},
		{"last_seq empty", withToken("last_seq", ""), nil, false, 400},
		{"last_seq with spaces", withToken("last_seq", " 5"), nil, false, 400},
		{"no token", url.Values{}, nil, false, 401},
		{"garbage token", url.Values{"access_token": {"garbage"}}, nil, false, 401},
		{"expired token", url.Values{"access_token": {n.Token(t, "acme", "alice", -time.Minute, false)}}, nil, false, 401},
		{"token of another secret", url.Values{"access_token": {otherSecret}}, nil, false, 401},
		{"garbage bearer header", url.Values{}, hdr("Authorization", "Bearer garbage"), false, 401},
		{"origin not allowed", withToken(), hdr("Origin", "https://evil.example"), false, 403},
		{"origin differs in scheme", withToken(), hdr("Origin", "http://app.example"), false, 403},
		{"plain GET", withToken(), nil, true, 426},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := upgradeRequest(t, streamURL(tc.q), tc.header, tc.plain)
			expectRefused(t, resp, body, tc.status)
		})
	}
	if c := n.Metrics().Connections.Load(); c != 0 {
		t.Errorf("connections %d after refusals, want 0", c)
	}

	// The client library sees the same refusal (and the allowed cases pass).
	ctx := ctxFor(t, phase)
	_, resp, err := testkit.DialErr(ctx, n.StreamURL(ok, nil), &websocket.DialOptions{
		HTTPHeader: hdr("Origin", "https://evil.example"),
	})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("dial with a foreign origin: %v %v, want a 403 refusal", resp, err)
	}
	for _, origin := range []string{"", "https://app.example", "https://other.example"} {
		var opts *websocket.DialOptions
		if origin != "" {
			opts = &websocket.DialOptions{HTTPHeader: hdr("Origin", origin)}
		}
		c := testkit.Dial(ctx, t, n.StreamURL(ok, nil), opts)
		c.ExpectWelcome(ctx)
		c.Close()
	}
}

// PROTOCOL.md --allowed-origins default "*": any Origin is allowed.
func TestStreamAnyOriginByDefault(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, "acme", "alice", time.Hour, false), nil),
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://anything.example"}}})
	c.ExpectWelcome(ctx)
}
