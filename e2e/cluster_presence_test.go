package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// Presence freshness of PROTOCOL.md v2 and docs/CLUSTER.md "Presence": a
// change shows on every node within 3 s; a node killed with kill -9 leaves
// within 3 s plus the heartbeat TTL (3 s).
const (
	presenceFresh = 3 * time.Second
	presenceTTL   = 3 * time.Second
)

// TestClusterPresence: on 3 real processes, a user connected on n1 shows in
// n3's presence; n2 is killed with kill -9, and its user leaves every
// survivor's presence, whose presence=true streams get the offline frame.
func TestClusterPresence(t *testing.T) {
	closeIdle(t)
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	watch := func(i int) *testkit.Client {
		u := testkit.StreamURL(c.node(i).Base, c.token("acme", "watcher", false), url.Values{"presence": {"true"}})
		w := testkit.Dial(ctx, t, u, nil)
		w.ExpectWelcome(ctx)
		return w
	}
	// The watchers' user is online before they open, so that their own
	// first stream is no change that could come before or after their
	// welcome.
	first := testkit.Dial(ctx, t, testkit.StreamURL(c.node(0).Base, c.token("acme", "watcher", false), nil), nil)
	defer first.Close()
	first.ExpectWelcome(ctx)
	waitClusterPresence(ctx, t, c, 0, "watcher:1", time.Now())
	waitClusterPresence(ctx, t, c, 2, "watcher:1", time.Now())
	w1 := watch(0)
	w3 := watch(2)
	waitClusterPresence(ctx, t, c, 0, "watcher:3", time.Now())
	defer w1.Close()
	defer w3.Close()

	start := time.Now()
	alice := testkit.Dial(ctx, t, testkit.StreamURL(c.node(0).Base, c.token("acme", "alice", false), nil), nil)
	defer alice.Close()
	alice.ExpectWelcome(ctx)
	took := waitClusterPresence(ctx, t, c, 2, "alice:1 watcher:3", start)
	t.Logf("alice on n1 showed on n3 after %v", took)
	if took > presenceFresh {
		t.Errorf("alice showed on n3 after %v, over %v", took, presenceFresh)
	}
	expectPresenceFrame(ctx, t, w3, "alice", "online", 2)
	expectPresenceFrame(ctx, t, w1, "alice", "online", 0)

	bob := testkit.Dial(ctx, t, testkit.StreamURL(c.node(1).Base, c.token("acme", "bob", false), nil), nil)
	defer bob.Close()
	bob.ExpectWelcome(ctx)
	waitClusterPresence(ctx, t, c, 0, "alice:1 bob:1 watcher:3", time.Now())
	expectPresenceFrame(ctx, t, w1, "bob", "online", 0)
	expectPresenceFrame(ctx, t, w3, "bob", "online", 2)

	killed := time.Now()
	c.node(1).Kill()
	took = waitClusterPresence(ctx, t, c, 2, "alice:1 watcher:3", killed)
	t.Logf("bob left n3's presence %v after kill -9 of n2", took)
	if took > presenceFresh+presenceTTL {
		t.Errorf("bob left after %v, over %v", took, presenceFresh+presenceTTL)
	}
	waitClusterPresence(ctx, t, c, 0, "alice:1 watcher:3", killed)
	expectPresenceFrame(ctx, t, w1, "bob", "offline", 0)
	expectPresenceFrame(ctx, t, w3, "bob", "offline", 2)
}

// expectPresenceFrame reads w's next frame, which must be user going
// state (w is on node i).
func expectPresenceFrame(ctx context.Context, t *testing.T, w *testkit.Client, user, state string, i int) {
	t.Helper()
	f, err := w.ReadFrame(ctx)
	if err != nil {
		t.Fatalf("n%d watcher: %v", i+1, err)
	}
	if f.Type != "presence" || f.User != user || f.State != state {
		t.Fatalf("n%d watcher got %s, want %s %s", i+1, f.Raw, user, state)
	}
}

// waitClusterPresence polls GET presence of acme on node i until its users
// read want, and returns how long after since that was.
func waitClusterPresence(ctx context.Context, t *testing.T, c *cluster, i int, want string, since time.Time) time.Duration {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	tok := c.token("acme", "reader", false)
	last := ""
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.node(i).Base+"/v2/realtime/orgs/acme/presence", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := hc.Do(req); err == nil {
			var p struct {
				Users []struct {
					User        string `json:"user"`
					Connections int    `json:"connections"`
				} `json:"users"`
			}
			ok := resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&p) == nil
			resp.Body.Close()
			if ok {
				last = ""
				for k, u := range p.Users {
					if k > 0 {
						last += " "
					}
					last += fmt.Sprintf("%s:%d", u.User, u.Connections)
				}
				if last == want {
					return time.Since(since)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("n%d presence of acme: %q, want %q", i+1, last, want)
	return 0
}
