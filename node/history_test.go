package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
)

// historyAnswer is a 200 of GET /v2/realtime/orgs/{org}/events.
type historyAnswer struct {
	Epoch  string                       `json:"epoch"`
	Head   uint64                       `json:"head"`
	First  uint64                       `json:"first"`
	Last   uint64                       `json:"last"`
	Events []map[string]json.RawMessage `json:"events"`
}

func getHistory(t *testing.T, n *testkit.Node, org, token, query string) (int, []byte) {
	t.Helper()
	return getBearer(t, n.BaseURL()+"/v2/realtime/orgs/"+org+"/events?"+query, token)
}

// readAllHistory pages from after=0 with limit, following "last", and
// returns the seqs read (checking each page's shape).
func readAllHistory(t *testing.T, n *testkit.Node, org, token, extra string, limit int) []uint64 {
	t.Helper()
	var seqs []uint64
	after := uint64(0)
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("history paging does not end")
		}
		st, b := getHistory(t, n, org, token, fmt.Sprintf("after=%d&limit=%d%s", after, limit, extra))
		if st != http.StatusOK {
			t.Fatalf("after=%d: %d %s", after, st, b)
		}
		var a historyAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if len(a.Events) > limit || a.Last < after || a.Last > a.Head || a.Epoch == "" {
			t.Fatalf("after=%d limit=%d: page %s", after, limit, b)
		}
		for _, ev := range a.Events {
			if _, has := ev["type"]; has {
				t.Fatalf("event object with type: %s", b)
			}
			if _, has := ev["to"]; has {
				t.Fatalf("event object with to: %s", b)
			}
			var seq uint64
			if err := json.Unmarshal(ev["seq"], &seq); err != nil || seq <= after || seq > a.Last {
				t.Fatalf("after=%d last=%d: event %s", after, a.Last, b)
			}
			seqs = append(seqs, seq)
		}
		if a.Last == a.Head {
			return seqs
		}
		after = a.Last
	}
}

// PROTOCOL.md "History over HTTP": pages of the events after N, filtered
// by the token's scope as a stream would be, served from the window (the
// newest 16 here) or from the log; 410 window_exceeded before the oldest
// retained event; refusals before anything is read.
func TestHistory(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.WindowSize, c.RetentionMaxEvents = 16, 60 })
	const org = "hist"
	pub := n.Token(t, org, "backend", time.Hour, true)
	type ev struct {
		topic string
		to    []string
	}
	evs := []ev{{}}
	publish := func(k int) {
		parts := make([]string, k)
		for i := range parts {
			e := ev{topic: []string{"a.x", "b.y", "a.z"}[len(evs)%3]}
			if len(evs)%4 == 0 {
				e.to = []string{"alice"}
			}
			to := ""
			if e.to != nil {
				to = `,"to":["alice"]`
			}
			parts[i] = fmt.Sprintf(`{"topic":%q,"data":{"n":%d}%s}`, e.topic, len(evs), to)
			evs = append(evs, e)
		}
		if st, b := testkit.Publish(t, n.BaseURL(), org, pub, `{"events":[`+strings.Join(parts, ",")+`]}`); st != http.StatusCreated {
			t.Fatalf("publish: %d %s", st, b)
		}
	}
	for range 8 {
		publish(5)
	}
	secret := n.Secret
	tokens := []struct {
		name, token, extra string
		scope              messages.Scope
	}{
		{"bob", n.Token(t, org, "bob", time.Hour, false), "", messages.Scope{User: "bob"}},
		{"alice", n.Token(t, org, "alice", time.Hour, false), "", messages.Scope{User: "alice"}},
		{"alice a.*", testkit.TokenTopics(t, secret, org, "alice", time.Hour, []string{"a.*"}), "", messages.Scope{User: "alice", Topics: []string{"a.*"}}},
		{"bob a.* narrowed to a.z", testkit.TokenTopics(t, secret, org, "bob", time.Hour, []string{"a.*"}), "&topics=a.z", messages.Scope{User: "bob", Topics: []string{"a.z"}}},
		{"publisher of every org", testkit.Token(t, secret, "*", "backend", time.Hour, true), "", messages.Scope{User: "backend"}},
	}
	for _, tk := range tokens {
		var want []uint64
		for seq := 1; seq < len(evs); seq++ {
			if tk.scope.Allows(evs[seq].topic, evs[seq].to) {
				want = append(want, uint64(seq))
			}
		}
		for _, limit := range []int{1, 3, 100, 1000} {
			if got := readAllHistory(t, n, org, tk.token, tk.extra, limit); !slices.Equal(got, want) {
				t.Errorf("%s, limit %d: got %v\nwant %v", tk.name, limit, got, want)
			}
		}
	}

	// The default limit is 100; an event object is the frame without type.
	st, b := getHistory(t, n, org, tokens[1].token, "after=38")
	var a historyAnswer
	if err := json.Unmarshal(b, &a); st != 200 || err != nil || a.Head != 40 || a.First != 1 || a.Last != 40 || len(a.Events) != 2 {
		t.Fatalf("after=38: %d %s", st, b)
	}
	if got := a.Events[1]; string(got["seq"]) != "40" || string(got["topic"]) != `"b.y"` || string(got["data"]) != `{"n":40}` || got["ts"] == nil {
		t.Fatalf("event 40: %s", b)
	}
	// After head: an empty page, last = after.
	st, b = getHistory(t, n, org, tokens[0].token, "after=41")
	if err := json.Unmarshal(b, &a); st != 200 || err != nil || len(a.Events) != 0 || a.Last != 41 || a.Head != 40 {
		t.Fatalf("after=41: %d %s", st, b)
	}

	// Refusals.
	other := n.Token(t, "other", "bob", time.Hour, false)
	anySub := n.Token(t, "*", "bob", time.Hour, false)
	for _, tc := range []struct {
		name, org, token, query string
		status                  int
		code                    string
	}{
		{"no token", org, "", "after=0", 401, "missing_token"},
		{"bad token", org, "x.y.z", "after=0", 401, "invalid_token"},
		{"other org", org, other, "after=0", 403, "forbidden"},
		{"subscribe token for every org", org, anySub, "after=0", 403, "forbidden"},
		{"no after", org, tokens[0].token, "limit=5", 400, "invalid_query"},
		{"negative after", org, tokens[0].token, "after=-1", 400, "invalid_query"},
		{"limit 0", org, tokens[0].token, "after=0&limit=0", 400, "invalid_query"},
		{"limit 1001", org, tokens[0].token, "after=0&limit=1001", 400, "invalid_query"},
		{"after twice", org, tokens[0].token, "after=0&after=1", 400, "invalid_query"},
		{"bad topics", org, tokens[0].token, "after=0&topics=a*", 400, "invalid_query"},
		{"topics not covered", org, tokens[2].token, "after=0&topics=b.y", 403, "topic_forbidden"},
		{"bad org", "a.b", tokens[0].token, "after=0", 400, "invalid_org"},
	} {
		st, b := getHistory(t, n, tc.org, tc.token, tc.query)
		var e testkit.ErrorBody
		if err := json.Unmarshal(b, &e); err != nil || st != tc.status || e.Code != tc.code || e.Error == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, b, tc.status, tc.code)
		}
	}
	// The token may come in the query as well.
	if st, b := getHistory(t, n, org, "", "after=39&access_token="+url.QueryEscape(tokens[0].token)); st != 200 {
		t.Fatalf("access_token in the query: %d %s", st, b)
	}

	// Past the retention (60 events): 410 before first-1, 200 from it.
	for range 5 {
		publish(5)
	}
	st, b = getHistory(t, n, org, tokens[0].token, "after=4")
	var gone struct {
		Code        string `json:"code"`
		Error       string `json:"error"`
		First, Head uint64
	}
	if err := json.Unmarshal(b, &gone); st != http.StatusGone || err != nil || gone.Code != "window_exceeded" || gone.First != 6 || gone.Head != 65 || gone.Error == "" {
		t.Fatalf("after=4: %d %s, want 410 window_exceeded first 6 head 65", st, b)
	}
	st, b = getHistory(t, n, org, tokens[0].token, "after=5&limit=1")
	if err := json.Unmarshal(b, &a); st != 200 || err != nil || a.First != 6 || len(a.Events) != 1 || string(a.Events[0]["seq"]) != "6" {
		t.Fatalf("after=5: %d %s", st, b)
	}
}
