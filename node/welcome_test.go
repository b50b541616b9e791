package node_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
)

func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("frame %s: %v", raw, err)
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// PROTOCOL.md "Subscribing": welcome comes first, once, type first; head is
// the newest seq (0 if none); without last_seq resumed is false, no reset,
// live from head on. Both ways of passing the token are accepted.
func TestWelcomeFresh(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)

	cases := []struct {
		name      string
		published int
		header    bool // token in Authorization instead of the query
	}{
		{"empty org", 0, false},
		{"after three events", 3, false},
		{"bearer header", 0, true},
	}
	head := uint64(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.published > 0 {
				seqs := testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", tc.published)
				head = seqs[len(seqs)-1]
				settle(t, n, "acme", head)
			}
			tok := n.Token(t, "acme", "alice", time.Hour, false)
			u := n.StreamURL(tok, nil)
			var opts *websocket.DialOptions
			if tc.header {
				u = n.StreamURL("", nil)
				opts = &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}}
			}
			c := testkit.Dial(ctx, t, u, opts)
			w := c.ExpectWelcome(ctx)
			if !bytes.HasPrefix(w.Raw, []byte(`{"type":"welcome",`)) {
				t.Errorf("welcome does not start with its type: %s", w.Raw)
			}
			want := []string{"conn_id", "epoch", "head", "org", "protocol", "resumed", "type", "user"}
			if got := keysOf(t, w.Raw); !slices.Equal(got, want) {
				t.Errorf("welcome keys %v, want %v (%s)", got, want, w.Raw)
			}
			if w.ConnID == "" || w.Org != "acme" || w.User != "alice" || w.Epoch != n.Epoch() ||
				w.Head != head || w.Resumed || w.Replay != nil {
				t.Errorf("welcome %s: want org acme, user alice, epoch %s, head %d, resumed false", w.Raw, n.Epoch(), head)
			}
			// No reset and nothing old: the next frame is the next live event.
			seq := testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "orders.updated", `{"live":true}`)
			f := c.ExpectFrame(ctx, "event")
			if f.Seq != seq || seq != head+1 {
				t.Errorf("first frame after welcome %s, want the live event %d = head+1", f.Raw, seq)
			}
			head = seq
		})
	}
}

// Two connections get distinct conn_ids.
func TestWelcomeConnIDsDistinct(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	seen := map[string]bool{}
	for range 5 {
		_, w := subscriber(ctx, t, n, "acme", "alice")
		if seen[w.ConnID] {
			t.Fatalf("conn_id %s given twice", w.ConnID)
		}
		seen[w.ConnID] = true
	}
}

// PROTOCOL.md "event": type first, seq, topic, ts (RFC 3339, when accepted),
// id only when given, data byte for byte.
func TestEventFrameFields(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	c, _ := subscriber(ctx, t, n, "acme", "alice")

	cases := []struct {
		topic, data, id string
	}{
		{"orders.updated", `{"any":"json"}`, "optional-publisher-id"},
		{"a", ` { "sp" : [1, 2 ,3] ,"u":"\u00e9\n", "n": 1.50e+3 } `, ""},
		{"A-b_c.9", `"just a string"`, ""},
		{"t", `null`, "k"},
		{"t", `[]`, ""},
		{"t", `12345678901234567890`, ""},
	}
	for _, tc := range cases {
		before := time.Now().Add(-time.Second) // allow some clock rounding
		st, b := testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.EventBody(tc.topic, tc.data, tc.id))
		after := time.Now().Add(time.Second)
		if st != http.StatusCreated {
			t.Fatalf("publish %q: %d %s", tc.data, st, b)
		}
		var a testkit.SeqAnswer
		_ = json.Unmarshal(b, &a)
		f := c.ExpectFrame(ctx, "event")
		if !bytes.HasPrefix(f.Raw, []byte(`{"type":"event",`)) {
			t.Errorf("event does not start with its type: %s", f.Raw)
		}
		if f.Seq != a.Seq || f.Topic != tc.topic || f.ID != tc.id {
			t.Errorf("event %s: want seq %d topic %q id %q", f.Raw, a.Seq, tc.topic, tc.id)
		}
		// The data member is the publisher's bytes, whitespace inside included.
		wantData := bytes.TrimSpace([]byte(tc.data))
		if !bytes.Equal(bytes.TrimSpace(f.Data), wantData) {
			t.Errorf("data %s, want byte for byte %s", f.Data, wantData)
		}
		want := []string{"data", "seq", "topic", "ts", "type"}
		if tc.id != "" {
			want = []string{"data", "id", "seq", "topic", "ts", "type"}
		}
		if got := keysOf(t, f.Raw); !slices.Equal(got, want) {
			t.Errorf("event keys %v, want %v", got, want)
		}
		ts, err := time.Parse(time.RFC3339Nano, f.TS)
		if err != nil {
			t.Errorf("ts %q is not RFC 3339: %v", f.TS, err)
		} else if ts.Before(before) || ts.After(after) {
			t.Errorf("ts %v not within the publish call [%v, %v]", ts, before, after)
		}
	}
}

// PROTOCOL.md "welcome": head is the org's newest seq at that moment. A
// stream opened after a publish was acknowledged must not announce an older
// head (the client would be told that acknowledged events are in its
// future).
func TestWelcomeHeadCoversAcknowledged(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	tok := n.Token(t, "acme", "alice", time.Hour, false)
	// Keep the org's actor alive between the probes.
	subscriber(ctx, t, n, "acme", "holder")
	stale := 0
	const rounds = 300
	for i := range rounds {
		var seq uint64
		if i%2 == 0 {
			seq = testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "t", `{}`)
		} else {
			seqs := testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "t", 50)
			seq = seqs[len(seqs)-1]
		}
		c := testkit.Dial(ctx, t, n.StreamURL(tok, nil), nil)
		if w := c.ExpectWelcome(ctx); w.Head < seq {
			stale++
			if stale == 1 {
				t.Logf("after the ack of seq %d: welcome %s", seq, w.Raw)
			}
		}
		c.Close()
	}
	if stale > 0 {
		t.Errorf("%d of %d fresh streams announced a head older than an acknowledged seq", stale, rounds)
	}
}
