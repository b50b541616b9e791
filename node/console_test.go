package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// mintDev asks the node's dev route for a token; it returns the status and
// body.
func mintDev(ctx context.Context, t *testing.T, n *testkit.Node, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.BaseURL()+"/v2/dev/tokens", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The console: GET / is the page and loads its script; without --dev the
// token route does not exist and the config says so.
func TestConsolePage(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	resp, err := http.Get(n.BaseURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(page), `<script src="/console/app.js?v=`) {
		t.Fatalf("the page loads no script:\n%s", page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws: wss:") {
		t.Errorf("CSP %q does not let the page open its stream", csp)
	}
	if st, b := get(t, n.BaseURL()+"/console/app.js"); st != 200 || len(b) < 1000 {
		t.Errorf("GET /console/app.js: %d, %d bytes", st, len(b))
	}
	if st, b := get(t, n.BaseURL()+"/v2/console/config"); st != 200 || string(b) != `{"dev":false}` {
		t.Errorf("console config: %d %s", st, b)
	}
	st, b := mintDev(ctx, t, n, `{"org":"acme","sub":"console"}`)
	if st != 404 || !strings.Contains(string(b), `"code":"not_found"`) {
		t.Errorf("dev tokens without --dev: %d %s, want a JSON 404", st, b)
	}
}

// With --dev, a token minted by the console's route opens a stream and
// receives events; a minted publish token publishes; bad requests are 400.
func TestDevTokenOpensStream(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.Dev = true })
	ctx := ctxFor(t, phase)
	if st, b := get(t, n.BaseURL()+"/v2/console/config"); st != 200 || string(b) != `{"dev":true}` {
		t.Errorf("console config: %d %s", st, b)
	}
	mint := func(body string) string {
		st, b := mintDev(ctx, t, n, body)
		if st != http.StatusCreated {
			t.Fatalf("mint %s: %d %s", body, st, b)
		}
		var a struct {
			Token string `json:"token"`
			Exp   int64  `json:"exp"`
		}
		if err := json.Unmarshal(b, &a); err != nil || a.Token == "" {
			t.Fatalf("mint answer %s: %v", b, err)
		}
		if d := time.Until(time.Unix(a.Exp, 0)); d < 59*time.Minute || d > 61*time.Minute {
			t.Errorf("exp in %v, want about 1h", d)
		}
		return a.Token
	}
	sub := mint(`{"org":"acme","sub":"console","scope":"subscribe","ttl":"1h"}`)
	pub := mint(`{"org":"acme","sub":"console-pub","scope":"publish","ttl":"1h"}`)

	c := testkit.Dial(ctx, t, n.StreamURL(sub, nil), nil)
	defer c.Close()
	w := c.ExpectWelcome(ctx)
	if w.Org != "acme" || w.User != "console" {
		t.Fatalf("welcome %+v", w)
	}
	seq := testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "console.test", `{"n":1}`)
	ev := c.ExpectFrame(ctx, "event")
	if ev.Seq != seq || ev.Topic != "console.test" || string(ev.Data) != `{"n":1}` {
		t.Fatalf("event %+v, want seq %d", ev, seq)
	}

	for _, tc := range []struct{ body, code string }{
		{`{"org":"ac me","sub":"x"}`, "invalid_org"},
		{`{"org":"acme","sub":""}`, "invalid_sub"},
		{`{"org":"acme","sub":"x","scope":"root"}`, "invalid_scope"},
		{`{"org":"acme","sub":"x","ttl":"48h"}`, "invalid_ttl"},
	} {
		if st, b := mintDev(ctx, t, n, tc.body); st != 400 || decodeError(t, b).Code != tc.code {
			t.Errorf("mint %s: %d %s, want 400 %s", tc.body, st, b, tc.code)
		}
	}
}
