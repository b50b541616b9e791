package node_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

// forgerConn is a NATS connection to url that may publish on
// orgstream.live.>. The embedded server lets no user do that (e2e
// TestEmbeddedNATSPublish shows the refusal), so the forgery tests run the
// node on an external server that leaves the live subjects open to all,
// as a misconfigured cluster would; the witness in forgeLive fails the test
// loudly if the forged message does not reach the subject.
func forgerConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// liveSubscription subscribes nc to org's live subject: it sees the real
// republished events (their headers are copied by a forger) and the forged
// messages.
func liveSubscription(t *testing.T, nc *nats.Conn, org string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(persistence.LivePrefix + org)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

// nextLive returns the next message of sub whose data is data.
func nextLive(t *testing.T, sub *nats.Subscription, data string) *nats.Msg {
	t.Helper()
	for {
		m, err := sub.NextMsg(phase)
		if err != nil {
			t.Fatalf("no live message with data %s on %s: %v", data, sub.Subject, err)
		}
		if string(m.Data) == data {
			return m
		}
	}
}

// forgeLive publishes a forged live message on org and waits until sub saw
// it: it reached the node's live feed before anything published later.
func forgeLive(t *testing.T, nc *nats.Conn, sub *nats.Subscription, org string, h nats.Header, data string) {
	t.Helper()
	if err := nc.PublishMsg(&nats.Msg{Subject: persistence.LivePrefix + org, Header: h, Data: []byte(data)}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	nextLive(t, sub, data)
}

// PROTOCOL.md "The backbone is closed", on a server that lets anyone
// publish on the live subjects: a message injected on an org's live
// subject never reaches a client and never displaces a stored event, even
// with headers copied from a real one; the forged messages are counted in
// live_forged_total (JSON metrics and /metrics).
func TestForgedLiveMessageNotDelivered(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	n := testkit.StartNode(t, func(c *node.Config) { c.NATSURL = ns.ClientURL() })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "victim", "backend", time.Hour, true)
	nc := forgerConn(t, ns.ClientURL())
	sub := liveSubscription(t, nc, "victim")
	c, w := subscriber(ctx, t, n, "victim", "alice")
	if w.Head != 0 {
		t.Fatalf("welcome %s, want head 0", w.Raw)
	}
	if seq := testkit.PublishEvent(t, n.BaseURL(), "victim", pub, "billing", `{"real":1}`); seq != 1 {
		t.Fatalf("published seq %d", seq)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 1 || string(f.Data) != `{"real":1}` {
		t.Fatalf("first event %s", f.Raw)
	}
	real := nextLive(t, sub, `{"real":1}`).Header

	// As in the issue: `nats pub orgstream.live.victim … -H Orgstream-Seq:2`.
	forgeLive(t, nc, sub, "victim", nats.Header{
		persistence.HeaderSeq:   {"2"},
		persistence.HeaderTime:  {time.Now().UTC().Format(time.RFC3339Nano)},
		persistence.HeaderTopic: {"billing"},
	}, `{"forged":1}`)
	// The real event's headers, Nats-* included, with the next seq.
	copied := nats.Header{}
	for k, v := range real {
		copied[k] = slices.Clone(v)
	}
	copied.Set(persistence.HeaderSeq, "2")
	forgeLive(t, nc, sub, "victim", copied, `{"forged":2}`)

	if seq := testkit.PublishEvent(t, n.BaseURL(), "victim", pub, "billing", `{"real":2}`); seq != 2 {
		t.Fatalf("published seq %d", seq)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 2 || string(f.Data) != `{"real":2}` {
		t.Fatalf("after the forgeries: %s, want the real seq 2", f.Raw)
	}
	// A stream opened now resumes across them with the stored events only.
	r := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, "victim", "bob", time.Hour, false), 0, n.Epoch()), nil)
	defer r.Close()
	r.ExpectWelcome(ctx)
	for i, want := range []string{`{"real":1}`, `{"real":2}`} {
		if f := r.ExpectFrame(ctx, "event"); f.Seq != uint64(i+1) || string(f.Data) != want {
			t.Fatalf("replayed %s, want seq %d %s", f.Raw, i+1, want)
		}
	}

	// The follower handled the forgeries before the real seq 2, which the
	// client has: both are counted by now.
	st, b := get(t, n.BaseURL()+"/v2/realtime/metrics")
	var doc map[string]any
	if st != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("metrics JSON: %d %s", st, b)
	}
	if doc["live_forged_total"] != float64(2) {
		t.Fatalf("live_forged_total = %v, want 2 (%s)", doc["live_forged_total"], b)
	}
	st, b = get(t, n.BaseURL()+"/metrics")
	if st != 200 || !strings.Contains(string(b), "\norgstream_live_forged_total "+strconv.Itoa(2)+"\n") {
		t.Fatalf("/metrics: %d, no orgstream_live_forged_total 2", st)
	}
}

// With the daemon's own credentials on the embedded server, a forged live
// message is refused by the server: it never reaches the live feed (the
// follower sees nothing to count), and the client gets the next stored
// event.
func TestDaemonCredentialsCannotForge(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "victim", "backend", time.Hour, true)
	c, _ := subscriber(ctx, t, n, "victim", "alice")
	if seq := testkit.PublishEvent(t, n.BaseURL(), "victim", pub, "billing", `{"real":1}`); seq != 1 {
		t.Fatalf("published seq %d", seq)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 1 {
		t.Fatalf("first event %s", f.Raw)
	}
	nc := n.DaemonConn()
	forged := &nats.Msg{Subject: persistence.LivePrefix + "victim", Data: []byte(`{"forged":1}`),
		Header: nats.Header{persistence.HeaderSeq: {"2"}, persistence.HeaderTopic: {"billing"}}}
	if err := nc.PublishMsg(forged); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if seq := testkit.PublishEvent(t, n.BaseURL(), "victim", pub, "billing", `{"real":2}`); seq != 2 {
		t.Fatalf("published seq %d", seq)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 2 || string(f.Data) != `{"real":2}` {
		t.Fatalf("after the forgery: %s, want the real seq 2", f.Raw)
	}
	st, b := get(t, n.BaseURL()+"/v2/realtime/metrics")
	var doc map[string]any
	if st != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("metrics JSON: %d %s", st, b)
	}
	if doc["live_forged_total"] != float64(0) {
		t.Fatalf("live_forged_total = %v: the forgery reached the live feed", doc["live_forged_total"])
	}
}
