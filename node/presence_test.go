package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

// getPresence is GET /v2/realtime/orgs/{org}/presence with token ("" for
// none): the status, the body, and the body as a presence.
func getPresence(t *testing.T, base, org, token string) (int, []byte, messages.Presence) {
	t.Helper()
	st, b := getBearer(t, base+"/v2/realtime/orgs/"+org+"/presence", token)
	var p messages.Presence
	if st == http.StatusOK {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("presence body %s: %v", b, err)
		}
	}
	return st, b, p
}

// presenceText is a presence's users as "user:n user:n" (in the order of
// the body), checking that its total is their sum.
func presenceText(t *testing.T, p messages.Presence) string {
	t.Helper()
	s, sum := "", 0
	for i, u := range p.Users {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%d", u.User, u.Connections)
		sum += u.Connections
	}
	if p.Connections != sum {
		t.Fatalf("presence %+v: connections %d, users sum to %d", p, p.Connections, sum)
	}
	return s
}

// waitPresence polls the presence of org on base until its users are want.
func waitPresence(ctx context.Context, t *testing.T, base, org, token, want string) {
	t.Helper()
	last := ""
	for ctx.Err() == nil {
		st, b, p := getPresence(t, base, org, token)
		if st != http.StatusOK {
			t.Fatalf("presence of %s: %d %s", org, st, b)
		}
		if p.Org != org {
			t.Fatalf("presence of %s names org %q", org, p.Org)
		}
		if last = presenceText(t, p); last == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("presence of %s: %q, want %q", org, last, want)
}

// presenceStream opens a presence=true stream for (org, user) and reads its
// welcome.
func presenceStream(ctx context.Context, t *testing.T, n *testkit.Node, org, user string) *testkit.Client {
	t.Helper()
	c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, org, user, time.Hour, false), url.Values{"presence": {"true"}}), nil)
	c.ExpectWelcome(ctx)
	return c
}

// expectPresence reads c's next frame, which must be user going state.
func expectPresence(ctx context.Context, t *testing.T, c *testkit.Client, user, state string) {
	t.Helper()
	f := c.ExpectFrame(ctx, "presence")
	if f.User != user || f.State != state || f.Seq != 0 {
		t.Fatalf("presence frame %s, want %s %s", f.Raw, user, state)
	}
}

// expectAfterOwn reads c's next presence frame, skipping one of c's own
// user "watcher" going online (which may come or not: its first stream
// opened just before), and checks it is user going state.
func expectAfterOwn(ctx context.Context, t *testing.T, c *testkit.Client, user, state string) {
	t.Helper()
	f := c.ExpectFrame(ctx, "presence")
	if f.User == "watcher" && f.State == "online" {
		f = c.ExpectFrame(ctx, "presence")
	}
	if f.User != user || f.State != state || f.Seq != 0 {
		t.Fatalf("presence frame %s, want %s %s", f.Raw, user, state)
	}
}

// PROTOCOL.md "Presence" on one node: GET counts open streams per user,
// sorted; a presence=true stream gets online when a user's first stream
// opens and offline when its last closes, nothing in between, nothing of
// another org; a stream without presence=true gets none.
func TestPresence(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	base := n.BaseURL()
	tok := n.Token(t, "acme", "reader", time.Hour, false)

	if st, b, p := getPresence(t, base, "acme", tok); st != http.StatusOK || p.Org != "acme" || p.Connections != 0 || string(b) != `{"org":"acme","connections":0,"users":[]}` {
		t.Fatalf("empty org: %d %s", st, b)
	}
	plain, _ := subscriber(ctx, t, n, "acme", "plain")
	// A change between a stream's acceptance and its welcome may not reach
	// it (its own first stream is one): the watcher's user is online
	// before the presence streams open.
	first, _ := subscriber(ctx, t, n, "acme", "watcher")
	defer first.Close()
	firstG, _ := subscriber(ctx, t, n, "globex", "watcher")
	defer firstG.Close()
	waitPresence(ctx, t, base, "acme", tok, "plain:1 watcher:1")
	waitPresence(ctx, t, base, "globex", n.Token(t, "globex", "x", time.Hour, false), "watcher:1")
	w := presenceStream(ctx, t, n, "acme", "watcher")
	other := presenceStream(ctx, t, n, "globex", "watcher")

	a1, _ := subscriber(ctx, t, n, "acme", "alice")
	expectPresence(ctx, t, w, "alice", "online")
	a2, _ := subscriber(ctx, t, n, "acme", "alice")
	waitPresence(ctx, t, base, "acme", tok, "alice:2 plain:1 watcher:2")
	a1.Close()
	waitPresence(ctx, t, base, "acme", tok, "alice:1 plain:1 watcher:2")
	a2.Close()
	expectPresence(ctx, t, w, "alice", "offline") // not before her last stream closed
	waitPresence(ctx, t, base, "acme", tok, "plain:1 watcher:2")
	waitPresence(ctx, t, base, "globex", n.Token(t, "globex", "x", time.Hour, false), "watcher:2")

	// Nothing else is pending on either stream, nor on globex's: their next
	// frame is the next event.
	expectLive(ctx, t, n, w, "acme", 1)
	if f := plain.ExpectFrame(ctx, "event"); f.Seq != 1 {
		t.Fatalf("stream without presence: %s, want the event seq 1", f.Raw)
	}
	expectLive(ctx, t, n, other, "globex", 1)
}

// Who may read an org's presence: any token of the org, or a publisher of
// every org; nothing else.
func TestPresenceRefusals(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	base := n.BaseURL()
	tests := []struct {
		name, org, token string
		status           int
		code             string
	}{
		{name: "subscriber of the org", org: "acme", token: n.Token(t, "acme", "u", time.Hour, false), status: 200},
		{name: "publisher of the org", org: "acme", token: n.Token(t, "acme", "b", time.Hour, true), status: 200},
		{name: "publisher of every org", org: "acme", token: n.Token(t, "*", "b", time.Hour, true), status: 200},
		{name: "no token", org: "acme", status: 401, code: "missing_token"},
		{name: "bad token", org: "acme", token: "not.a.token", status: 401, code: "invalid_token"},
		{name: "expired token", org: "acme", token: n.Token(t, "acme", "u", -time.Minute, false), status: 401, code: "token_expired"},
		{name: "other org's subscriber", org: "acme", token: n.Token(t, "globex", "u", time.Hour, false), status: 403, code: "forbidden"},
		{name: "other org's publisher", org: "acme", token: n.Token(t, "globex", "b", time.Hour, true), status: 403, code: "forbidden"},
		{name: "subscriber of every org", org: "acme", token: n.Token(t, "*", "u", time.Hour, false), status: 403, code: "forbidden"},
		{name: "invalid org", org: "ac$me", token: n.Token(t, "*", "b", time.Hour, true), status: 400, code: "invalid_org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := getPresence(t, base, tt.org, tt.token)
			if st != tt.status {
				t.Fatalf("status %d %s, want %d", st, b, tt.status)
			}
			if tt.code == "" {
				return
			}
			var e testkit.ErrorBody
			if err := json.Unmarshal(b, &e); err != nil || e.Code != tt.code || e.Error == "" {
				t.Fatalf("body %s, want code %s", b, tt.code)
			}
		})
	}
	// A stream with a presence value other than true or false is refused
	// before the upgrade.
	for _, v := range []string{"yes", "1", "TRUE", ""} {
		ctx := ctxFor(t, phase)
		u := n.StreamURL(n.Token(t, "acme", "u", time.Hour, false), url.Values{"presence": {v}})
		c, resp, err := testkit.DialErr(ctx, u, nil)
		if err == nil {
			c.Close()
			t.Fatalf("presence=%q: accepted", v)
		}
		var e testkit.ErrorBody
		if resp == nil || resp.StatusCode != 400 || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Code != "invalid_query" {
			t.Fatalf("presence=%q: %v %+v, want 400 invalid_query", v, err, e)
		}
	}
}

// --presence=false: the GET answers 404 presence_disabled, and a
// presence=true stream is served without presence frames.
func TestPresenceOff(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.NoPresence = true })
	ctx := ctxFor(t, phase)
	st, b, _ := getPresence(t, n.BaseURL(), "acme", n.Token(t, "acme", "u", time.Hour, false))
	var e testkit.ErrorBody
	if st != 404 || json.Unmarshal(b, &e) != nil || e.Code != "presence_disabled" {
		t.Fatalf("GET presence with presence off: %d %s, want 404 presence_disabled", st, b)
	}
	w := presenceStream(ctx, t, n, "acme", "watcher")
	other, _ := subscriber(ctx, t, n, "acme", "alice")
	defer other.Close()
	expectLive(ctx, t, n, w, "acme", 1)
}

// Nodes sharing an external NATS server (--nats-url) see each other's
// users.
func TestPresenceExternalNATS(t *testing.T) {
	t.Parallel()
	_, a, b := nodesOnNATS(t)
	ctx := ctxFor(t, phase)
	w := presenceStream(ctx, t, b, "acme", "watcher")
	waitPresence(ctx, t, a.BaseURL(), "acme", a.Token(t, "acme", "x", time.Hour, false), "watcher:1")
	c, _ := subscriber(ctx, t, a, "acme", "alice")
	expectAfterOwn(ctx, t, w, "alice", "online")
	waitPresence(ctx, t, b.BaseURL(), "acme", b.Token(t, "acme", "x", time.Hour, false), "alice:1 watcher:1")
	c.Close()
	expectPresence(ctx, t, w, "alice", "offline")
}

// The publisher role can neither read nor forge presence: the bucket's
// subjects and the JetStream API are refused by the server, and a forged
// entry never shows.
func TestPresencePublisherRole(t *testing.T) {
	t.Parallel()
	const pubPass = "node-test-publisher-password"
	n := testkit.StartNode(t, func(c *node.Config) { c.NATSListen, c.NATSPublisherPassword = "127.0.0.1:0", pubPass })
	ctx := ctxFor(t, phase)
	alice, _ := subscriber(ctx, t, n, "acme", "alice")
	defer alice.Close()
	tok := n.Token(t, "acme", "x", time.Hour, false)
	waitPresence(ctx, t, n.BaseURL(), "acme", tok, "alice:1")

	nc, expectViolation := publisherConn(ctx, t, n.NATSURL(), pubPass)
	// Reading: a subscription on the bucket's subjects.
	sub, err := nc.SubscribeSync("$KV." + persistence.PresenceBucket + ".>")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	expectViolation("subscribing to the presence bucket")
	// Reading the heartbeats.
	beats, err := nc.SubscribeSync(persistence.PresencePrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = beats.Unsubscribe() }()
	expectViolation("subscribing to the presence heartbeats")
	// Reading through the JetStream API (a watch, a get).
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	if _, err := js.KeyValue(short, persistence.PresenceBucket); err == nil {
		t.Fatal("the publisher opened the presence bucket")
	}
	cancel()
	expectViolation("the JetStream API")
	// Forging: an entry naming a user of acme, published straight on the
	// bucket's subject.
	if err := nc.Publish("$KV."+persistence.PresenceBucket+".o.acme.FORGED1", []byte(`{"mallory":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	expectViolation("a forged entry")
	// Forging a node's leave or heartbeat.
	if err := nc.Publish(persistence.PresencePrefix+"leave.FORGED1", nil); err != nil {
		t.Fatal(err)
	}
	expectViolation("a forged leave")
	// A real change after the forgery: once it shows, the forgery would
	// have shown before it.
	bob, _ := subscriber(ctx, t, n, "acme", "bob")
	defer bob.Close()
	waitPresence(ctx, t, n.BaseURL(), "acme", tok, "alice:1 bob:1")
}
