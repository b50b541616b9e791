package node_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// PROTOCOL.md "Publishing", errors: 400 malformed JSON, bad topic, missing
// data; 401; 403 wrong org or scope; 413 body over 1 MiB — each with a JSON
// body {"error","code"}, each adding nothing to the log (the subscriber's
// next event after them is seq 1, and the head stays 0). 503 is in
// TestDrain.
func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	sub, _ := subscriber(ctx, t, n, "acme", "alice")

	pub := n.Token(t, "acme", "backend", time.Hour, true)
	good := testkit.EventBody("orders.updated", `{"ok":true}`, "")
	big := `{"topic":"t","data":"` + strings.Repeat("x", 1<<20) + `"}`
	otherSecret := testkit.Token(t, []byte("another secret, another issuer!!"), "acme", "backend", time.Hour, true)

	cases := []struct {
		name   string
		org    string
		token  string
		body   string
		status int
	}{
		{"malformed JSON", "acme", pub, `{"topic":"t","data":`, 400},
		{"not JSON at all", "acme", pub, `hello`, 400},
		{"not an object", "acme", pub, `[1,2]`, 400},
		{"empty body", "acme", pub, ``, 400},
		{"bad topic chars", "acme", pub, testkit.EventBody("orders updated!", `{}`, ""), 400},
		{"empty topic", "acme", pub, testkit.EventBody("", `{}`, ""), 400},
		{"topic too long", "acme", pub, testkit.EventBody(strings.Repeat("t", 257), `{}`, ""), 400},
		{"topic not a string", "acme", pub, `{"topic":5,"data":{}}`, 400},
		{"missing topic", "acme", pub, `{"data":{}}`, 400},
		{"missing data", "acme", pub, `{"topic":"t"}`, 400},
		{"batch with one bad event", "acme", pub, `{"events":[` + good + `,{"topic":"t"}]}`, 400},
		{"batch with malformed element", "acme", pub, `{"events":[` + good + `,{"topic":"t","data":}]}`, 400},
		{"batch over 1000", "acme", pub, testkit.BatchBody("t", 1001), 400},
		{"no token", "acme", "", good, 401},
		{"garbage token", "acme", "not.a.jwt", good, 401},
		{"expired token", "acme", n.Token(t, "acme", "backend", -time.Minute, true), good, 401},
		{"token of another secret", "acme", otherSecret, good, 401},
		{"subscribe scope", "acme", n.Token(t, "acme", "backend", time.Hour, false), good, 403},
		{"token of another org", "acme", n.Token(t, "globex", "backend", time.Hour, true), good, 403},
		{"body over 1 MiB", "acme", pub, big, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := testkit.Publish(t, n.BaseURL(), tc.org, tc.token, tc.body)
			if st != tc.status {
				t.Fatalf("status %d (%s), want %d", st, b, tc.status)
			}
			decodeError(t, b)
		})
	}

	t.Run("body over 1 MiB without Content-Length", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, testkit.PublishURL(n.BaseURL(), "acme"),
			io.MultiReader(strings.NewReader(big))) // unknown length: chunked
		req.Header.Set("Authorization", "Bearer "+pub)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 413 {
			t.Fatalf("status %d (%s), want 413", resp.StatusCode, b)
		}
		decodeError(t, b)
	})
	t.Run("token only in the query", func(t *testing.T) {
		u := testkit.PublishURL(n.BaseURL(), "acme") + "?access_token=" + pub
		resp, err := http.Post(u, "application/json", bytes.NewBufferString(good))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 401 {
			t.Fatalf("status %d (%s), want 401", resp.StatusCode, b)
		}
	})

	// Nothing of the above reached the log or the subscriber.
	if h, _ := n.Head(t, "acme"); h != 0 {
		t.Fatalf("head after refusals %d, want 0", h)
	}
	expectLive(ctx, t, n, sub, "acme", 1)
	// A wildcard publisher may publish to any org (and acme continues at 2).
	star := n.Token(t, "*", "backend", time.Hour, true)
	if seq := testkit.PublishEvent(t, n.BaseURL(), "acme", star, "t", `{}`); seq != 2 {
		t.Fatalf("wildcard publish got seq %d, want 2", seq)
	}
}
