package node_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
)

// Every welcome names the wire contract's version, and the metrics count
// open streams by the client name and version they sent (PROTOCOL.md
// "Versions"); a malformed client parameter is a 400 and opens nothing.
func TestProtocolVersionAndClientMetrics(t *testing.T) {
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	tok := n.Token(t, "acme", "alice", time.Hour, false)

	named := testkit.Dial(ctx, t, n.StreamURL(tok, url.Values{"client": {"orgstream-go/9.9.9"}}), nil)
	if w := named.ExpectWelcome(ctx); w.Protocol != messages.ProtocolVersion {
		t.Fatalf("welcome protocol %q, want %q (%s)", w.Protocol, messages.ProtocolVersion, w.Raw)
	}
	plain := testkit.Dial(ctx, t, n.StreamURL(tok, nil), nil)
	plain.ExpectWelcome(ctx)
	sse, err := testkit.DialSSE(ctx, n.SSEURL(tok, url.Values{"client": {"orgstream-js/1.2.3"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Close()

	if _, resp, err := testkit.DialErr(ctx, n.StreamURL(tok, url.Values{"client": {"bad client"}}), nil); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("client with a space: err %v, resp %v; want a 400", err, resp)
	}

	clients := func() map[string]float64 {
		st, b := get(t, n.BaseURL()+"/v2/realtime/metrics")
		var doc struct {
			Clients map[string]float64 `json:"clients"`
		}
		if st != 200 || json.Unmarshal(b, &doc) != nil {
			t.Fatalf("metrics JSON: %d %s", st, b)
		}
		return doc.Clients
	}
	want := map[string]float64{"orgstream-go/9.9.9": 1, "orgstream-js/1.2.3": 1, "unknown": 1}
	waitFor(t, 10*time.Second, "clients counted", func() bool {
		got := clients()
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return len(got) == len(want)
	})
	st, b := get(t, n.BaseURL()+"/metrics")
	if st != 200 || !strings.Contains(string(b), `orgstream_connections_by_client{client="orgstream-go/9.9.9"} 1`) {
		t.Fatalf("/metrics: %d, no orgstream_connections_by_client for orgstream-go/9.9.9", st)
	}

	named.Close()
	waitFor(t, 10*time.Second, "the closed stream uncounted", func() bool { return clients()["orgstream-go/9.9.9"] == 0 })
}
