package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

// postTicket is POST /v2/realtime/tickets on base with token as a bearer
// ("" for none), rawQuery appended (may be "") and body: the status and the
// body.
func postTicket(t *testing.T, base, token, rawQuery, body string) (int, []byte) {
	t.Helper()
	u := base + "/v2/realtime/tickets"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return doBearer(t, http.MethodPost, u, token, body)
}

// issueTicket trades token for a ticket on base, checking the 201 body.
func issueTicket(t *testing.T, base, token string, ttl int) string {
	t.Helper()
	st, b := postTicket(t, base, token, "", "")
	if st != http.StatusCreated {
		t.Fatalf("POST ticket: %d %s, want 201", st, b)
	}
	var a struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("ticket body %s: %v", b, err)
	}
	if !strings.HasPrefix(a.Ticket, "t-") || len(a.Ticket) < 24 || a.ExpiresIn != ttl {
		t.Fatalf("ticket body %s, want a t- ticket of 128 bits expiring in %d", b, ttl)
	}
	return a.Ticket
}

// ticketURL is the stream URL of base with ticket=t and q.
func ticketURL(base, ticket string, q url.Values) string {
	v := url.Values{"ticket": {ticket}}
	for k, vs := range q {
		v[k] = vs
	}
	return "ws" + strings.TrimPrefix(base, "http") + "/v2/realtime/stream?" + v.Encode()
}

// dialRefused dials u and returns the refusal's status and error code;
// an accepted stream fails t.
func dialRefused(ctx context.Context, t *testing.T, u string, h http.Header) (int, string) {
	t.Helper()
	c, resp, err := testkit.DialErr(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.Close()
		t.Fatalf("stream accepted, want a refusal")
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, decodeError(t, b).Code
}

// PROTOCOL.md "Connect tickets": a ticket opens one stream with its
// token's claims; the same ticket again, a malformed or unknown one, or a
// ticket with a token are refused before the upgrade; SSE takes tickets
// too; the 4001 rule follows the token's expiry, not the ticket's.
func TestTicketStream(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	base := n.BaseURL()
	tok := testkit.TokenTopics(t, n.Secret, "acme", "alice", time.Hour, []string{"orders.*"})

	tk := issueTicket(t, base, tok, 30)
	c := testkit.Dial(ctx, t, ticketURL(base, tk, url.Values{"topics": {"orders.eu"}}), nil)
	w := c.ExpectWelcome(ctx)
	if w.Org != "acme" || w.User != "alice" || !w.Scoped {
		t.Fatalf("welcome %s, want org acme, user alice, scoped", w.Raw)
	}
	// The token's topics hold: a wider query is still 403, which used
	// the ticket.
	if st, code := dialRefused(ctx, t, ticketURL(base, issueTicket(t, base, tok, 30), url.Values{"topics": {"billing"}}), nil); st != 403 || code != "topic_forbidden" {
		t.Fatalf("ticket with wider topics: %d %s, want 403 topic_forbidden", st, code)
	}
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishEvent(t, base, "acme", pub, "billing.x", `{}`)
	seq := testkit.PublishEvent(t, base, "acme", pub, "orders.eu", `{"n":1}`)
	if f := c.ExpectFrame(ctx, "event"); f.Seq != seq || f.Topic != "orders.eu" {
		t.Fatalf("event %s, want seq %d of orders.eu", f.Raw, seq)
	}

	other := issueTicket(t, base, tok, 30)
	refusals := []struct {
		name   string
		url    string
		header http.Header
		status int
		code   string
	}{
		{"second use", ticketURL(base, tk, nil), nil, 401, "invalid_ticket"},
		{"unknown", ticketURL(base, "t-AAAAAAAAAAAAAAAAAAAAAA", nil), nil, 401, "invalid_ticket"},
		{"malformed", ticketURL(base, "t-not-a-ticket", nil), nil, 401, "invalid_ticket"},
		{"a JWT as ticket", ticketURL(base, tok, nil), nil, 401, "invalid_ticket"},
		{"with access_token", ticketURL(base, other, url.Values{"access_token": {tok}}), nil, 400, "invalid_query"},
		{"with a bearer", ticketURL(base, other, nil), http.Header{"Authorization": {"Bearer " + tok}}, 400, "invalid_query"},
		{"twice in the query", ticketURL(base, other, nil) + "&ticket=" + other, nil, 400, "invalid_query"},
	}
	for _, r := range refusals {
		if st, code := dialRefused(ctx, t, r.url, r.header); st != r.status || code != r.code {
			t.Errorf("%s: %d %s, want %d %s", r.name, st, code, r.status, r.code)
		}
	}
	// other was not used by the 400s: it still opens a stream, over SSE.
	sse, err := testkit.DialSSE(ctx, base+"/v2/realtime/sse?ticket="+other, nil)
	if err != nil {
		t.Fatalf("sse with a ticket: %v", err)
	}
	defer sse.Close()
	if _, f, err := sse.NextFrame(); err != nil || f.Type != "welcome" || f.User != "alice" || !f.Scoped {
		t.Fatalf("sse welcome %s, %v", f.Raw, err)
	}
	resp, err := testkit.DialSSE(ctx, base+"/v2/realtime/sse?ticket="+other, nil)
	if !errors.Is(err, testkit.ErrSSEStatus) || resp.Resp.StatusCode != 401 {
		t.Fatalf("sse with a used ticket: %v, want 401", err)
	}
	b, _ := io.ReadAll(resp.Resp.Body)
	resp.Close()
	if code := decodeError(t, b).Code; code != "invalid_ticket" {
		t.Fatalf("sse with a used ticket: code %s, want invalid_ticket", code)
	}

	// A token about to expire: its ticket's stream ends with 4001 at the
	// token's expiry, well before the ticket's 30 s.
	short := n.Token(t, "acme", "bob", 2*time.Second, false)
	exp := tokenExpiry(t, short)
	sc := testkit.Dial(ctx, t, ticketURL(base, issueTicket(t, base, short, 30), nil), nil)
	sc.ExpectWelcome(ctx)
	for {
		if _, err = sc.ReadFrame(ctx); err != nil {
			break
		}
	}
	if code := testkit.CloseCode(err); code != 4001 || time.Now().Before(exp.Add(-50*time.Millisecond)) {
		t.Fatalf("short token's stream ended with %v at %v (expiry %v), want 4001 after it", err, time.Now(), exp)
	}
}

// A ticket is good for Config.TicketTTL only.
func TestTicketExpires(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond
	n := testkit.StartNode(t, func(c *node.Config) { c.TicketTTL = ttl })
	ctx := ctxFor(t, phase)
	tok := n.Token(t, "acme", "alice", time.Hour, false)
	fresh := issueTicket(t, n.BaseURL(), tok, 1) // expires_in rounds up
	stale := issueTicket(t, n.BaseURL(), tok, 1)
	testkit.Dial(ctx, t, ticketURL(n.BaseURL(), fresh, nil), nil).ExpectWelcome(ctx)
	time.Sleep(ttl) // the expiry itself is what is tested
	if st, code := dialRefused(ctx, t, ticketURL(n.BaseURL(), stale, nil), nil); st != 401 || code != "invalid_ticket" {
		t.Fatalf("expired ticket: %d %s, want 401 invalid_ticket", st, code)
	}
}

// POST /v2/realtime/tickets refuses as a stream's token check does, and
// takes the token from the Authorization header only.
func TestTicketRefusals(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	base := n.BaseURL()
	tok := n.Token(t, "acme", "alice", time.Hour, false)
	cases := []struct {
		name, token, query, body string
		status                   int
		code                     string
	}{
		{"no token", "", "", "", 401, "missing_token"},
		{"query token only", "", "access_token=" + tok, "", 401, "missing_token"},
		{"bad token", "not.a.jwt", "", "", 401, "invalid_token"},
		{"expired token", n.Token(t, "acme", "alice", -time.Minute, false), "", "", 401, "token_expired"},
		{"other secret", testkit.Token(t, []byte("another secret of thirty-two bytes!!"), "acme", "alice", time.Hour, false), "", "", 401, "invalid_token"},
		{"every org", n.Token(t, "*", "backend", time.Hour, true), "", "", 403, "forbidden"},
		{"body not an object", tok, "", "[1]", 400, "bad_request"},
		{"body not JSON", tok, "", "ticket please", 400, "bad_request"},
	}
	for _, tc := range cases {
		st, b := postTicket(t, base, tc.token, tc.query, tc.body)
		if code := decodeError(t, b).Code; st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, b, tc.status, tc.code)
		}
	}
	// Accepted: an empty object, a publish token of one org.
	if st, b := postTicket(t, base, tok, "", "{}"); st != http.StatusCreated {
		t.Errorf("body {}: %d %s", st, b)
	}
	if st, b := postTicket(t, base, n.Token(t, "acme", "backend", time.Hour, true), "", ""); st != http.StatusCreated {
		t.Errorf("publish token of one org: %d %s", st, b)
	}
	if st, b := getBearer(t, base+"/v2/realtime/tickets", tok); st != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d %s, want 405", st, b)
	}
}

// checkClusterTickets is PROTOCOL.md "Connect tickets" on the three nodes
// of TestEmbeddedCluster (a cluster of its own would double the time): a
// ticket issued on n1 opens a stream on n3, once: n2 then refuses it; of two
// nodes redeeming one ticket at once, one wins. The publisher role can
// neither read the ticket bucket nor forge a ticket.
func checkClusterTickets(ctx context.Context, t *testing.T, nodes []*testkit.Node, publisherPassword string) {
	t.Helper()
	tok := nodes[0].Token(t, "acme", "alice", time.Hour, false)

	tk := issueTicket(t, nodes[0].BaseURL(), tok, 30)
	w := testkit.Dial(ctx, t, ticketURL(nodes[2].BaseURL(), tk, nil), nil).ExpectWelcome(ctx)
	if w.User != "alice" || w.Org != "acme" {
		t.Fatalf("welcome on n3 %s", w.Raw)
	}
	if st, code := dialRefused(ctx, t, ticketURL(nodes[1].BaseURL(), tk, nil), nil); st != 401 || code != "invalid_ticket" {
		t.Fatalf("second use on n2: %d %s, want 401 invalid_ticket", st, code)
	}

	// A race: n2 and n3 redeem the same ticket at once, a few times.
	for range 3 {
		tk := issueTicket(t, nodes[0].BaseURL(), tok, 30)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for _, n := range nodes[1:] {
			wg.Go(func() {
				c, resp, err := testkit.DialErr(ctx, ticketURL(n.BaseURL(), tk, nil), nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
					c.Close()
				case resp != nil && resp.StatusCode == 401:
					lost++
				default:
					t.Errorf("racing redeem: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != 1 {
			t.Fatalf("racing redeems: %d won, %d lost, want 1 and 1", won, lost)
		}
	}

	// The publisher role: no read, no forgery.
	nc, expectViolation := publisherConn(ctx, t, nodes[0].NATSURL(), publisherPassword)
	sub, err := nc.SubscribeSync("$KV." + persistence.TicketBucket + ".>")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	expectViolation("subscribing to the ticket bucket")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	if _, err := js.KeyValue(short, persistence.TicketBucket); err == nil {
		t.Fatal("the publisher opened the ticket bucket")
	}
	cancel()
	expectViolation("the JetStream API")
	const forged = "t-Rk9SR0VERk9SR0VERk9SRw"
	val := `{"sub":"mallory","org":"acme","exp":` + jsonInt(time.Now().Add(time.Hour).UnixMilli()) +
		`,"until":` + jsonInt(time.Now().Add(time.Hour).UnixMilli()) + `}`
	if err := nc.Publish("$KV."+persistence.TicketBucket+"."+strings.TrimPrefix(forged, "t-"), []byte(val)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	expectViolation("a forged ticket")
	if st, code := dialRefused(ctx, t, ticketURL(nodes[0].BaseURL(), forged, nil), nil); st != 401 || code != "invalid_ticket" {
		t.Fatalf("forged ticket: %d %s, want 401 invalid_ticket", st, code)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
