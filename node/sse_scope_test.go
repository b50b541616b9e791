package node_test

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// The v2 additions compose: an SSE stream takes the stream's topic scope
// (403 topic_forbidden for a query its token does not cover, welcome
// scoped, only what it may see, with its ids) and, with presence=true,
// gets presence messages without an id.
func TestSSEScopedWithPresence(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	const org = "sse-scope"
	pub := n.Token(t, org, "backend", time.Hour, true)
	tok := testkit.TokenTopics(t, n.Secret, org, "alice", time.Hour, []string{"orders.*"})
	plain := http.Header{"Accept-Encoding": {"identity"}}

	refused, err := http.Get(n.SSEURL(tok, url.Values{"topics": {"billing.*"}}))
	if err != nil {
		t.Fatal(err)
	}
	refused.Body.Close()
	if refused.StatusCode != http.StatusForbidden {
		t.Fatalf("uncovered topics: status %d, want 403", refused.StatusCode)
	}

	c, w := openSSE(ctx, t, n.SSEURL(tok, url.Values{"topics": {"orders.paid"}, "presence": {"true"}}), plain)
	if !w.Scoped {
		t.Fatalf("welcome %s is not scoped", w.Raw)
	}
	_, epoch := n.Head(t, org)
	for _, b := range []string{
		`{"topic":"orders.paid","data":1}`,
		`{"topic":"billing.x","data":2}`,
		`{"topic":"orders.paid","data":3,"to":["bob"]}`,
		`{"topic":"orders.new","data":4}`,
		`{"topic":"orders.paid","data":5,"to":["alice"]}`,
	} {
		if st, body := testkit.Publish(t, n.BaseURL(), org, pub, b); st != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", b, st, body)
		}
	}
	// Events, and maybe alice's own online (her stream opened just now).
	var got []uint64
	for len(got) < 2 {
		m, f, err := c.NextFrame()
		if err != nil {
			t.Fatalf("sse: after %v: %v", got, err)
		}
		switch {
		case m.Event == "presence" && f.User == "alice" && !m.HasID:
		case m.Event == "event" && m.ID == sseID(epoch, f.Seq):
			got = append(got, f.Seq)
		default:
			t.Fatalf("sse: message %+v", m)
		}
	}
	if !reflect.DeepEqual(got, []uint64{1, 5}) {
		t.Fatalf("alice got %v, want [1 5]", got)
	}

	ws := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, org, "carol", time.Hour, false), nil), nil)
	ws.ExpectWelcome(ctx)
	for {
		m, f, err := c.NextFrame()
		if err != nil {
			t.Fatalf("sse: waiting for carol's presence: %v", err)
		}
		if m.Event != "presence" || m.HasID || f.Type != "presence" {
			t.Fatalf("sse: message %+v, want a presence message without id", m)
		}
		if f.User == "carol" && f.State == "online" {
			break
		}
	}
	ws.Close()
}
