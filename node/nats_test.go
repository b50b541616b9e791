package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

// PROTOCOL.md "Publishing" over NATS: a request on orgstream.publish.<org>
// with the same body gets the same JSON answer as HTTP, and the event
// reaches subscribers; --nats-listen port 0 picks a free port.
func TestNATSPublish(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&out), zapcore.InfoLevel)
	const pubPass = "node-test-publisher-password"
	n := testkit.StartNode(t, func(c *node.Config) {
		c.NATSListen, c.NATSPublisherPassword, c.Logger = "127.0.0.1:0", pubPass, zap.New(core)
	})
	ctx := ctxFor(t, phase)
	if !strings.HasPrefix(n.NATSURL(), "nats://127.0.0.1:") || strings.HasSuffix(n.NATSURL(), ":0") {
		t.Fatalf("NATSURL %q, want nats://127.0.0.1:PORT", n.NATSURL())
	}
	// The daemon logs the URL it listens on at start.
	if !strings.Contains(out.String(), n.NATSURL()) {
		t.Errorf("no log entry names %s", n.NATSURL())
	}
	if strings.Contains(out.String(), pubPass) {
		t.Error("the log holds the publisher password")
	}
	nc, err := nats.Connect(n.NATSURL(), nats.UserInfo(persistence.PublisherUser, pubPass))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, _ := subscriber(ctx, t, n, "acme", "alice")
	pub := n.Token(t, "*", "backend", time.Hour, true)

	request := func(org, body string) []byte {
		t.Helper()
		m, err := nc.RequestWithContext(ctx, "orgstream.publish."+org, []byte(body))
		if err != nil {
			t.Fatalf("NATS request: %v", err)
		}
		return m.Data
	}
	// Each body goes once over NATS (to acme) and once over HTTP (to the
	// twin org globex, whose seqs advance the same way): same answers.
	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"single", testkit.EventBody("orders.updated", `{"via":"nats"}`, ""), 201},
		{"batch", testkit.BatchBody("t", 3), 201},
		{"with id", testkit.EventBody("t", `{}`, "nats-key"), 201},
		{"repeated id", testkit.EventBody("t", `{}`, "nats-key"), 200},
		{"bad topic", testkit.EventBody("bad topic", `{}`, ""), 400},
		{"missing data", `{"topic":"t"}`, 400},
		{"malformed", `{"topic":`, 400},
		{"batch over 1000", testkit.BatchBody("t", 1001), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := request("acme", tc.body)
			st, want := testkit.Publish(t, n.BaseURL(), "globex", pub, tc.body)
			if st != tc.status {
				t.Fatalf("HTTP status %d (%s), want %d", st, want, tc.status)
			}
			if string(got) != string(want) {
				t.Fatalf("NATS answered %s, HTTP %s", got, want)
			}
		})
	}
	// acme got 1 + 3 + 1 events; the subscriber sees them, in order.
	evs, err := sub.CollectEvents(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 1 || string(evs[0].Data) != `{"via":"nats"}` || evs[4].Seq != 5 {
		t.Fatalf("events %s … %s", evs[0].Raw, evs[4].Raw)
	}
	expectLive(ctx, t, n, sub, "acme", 6)

	// An invalid org in the subject is refused with a JSON error too.
	var e testkit.ErrorBody
	if err := json.Unmarshal(request("bad$org", testkit.EventBody("t", `{}`, "")), &e); err != nil || e.Code == "" {
		t.Fatalf("invalid org: %+v %v", e, err)
	}
}

// startNATS runs a standalone nats-server with JetStream on a free loopback
// port, stopped when t ends.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: "external",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// nodesOnNATS starts a standalone nats-server (startNATS) and two nodes on
// it (--nats-url) that share a JWT secret: one node's token is good on
// the other.
func nodesOnNATS(t *testing.T) (ns *server.Server, a, b *testkit.Node) {
	t.Helper()
	ns = startNATS(t)
	secret := []byte("a shared secret for both nodes!!")
	mk := func() *testkit.Node {
		return testkit.StartNode(t, func(c *node.Config) { c.NATSURL, c.JWTSecret = ns.ClientURL(), secret })
	}
	return ns, mk(), mk()
}

// PROTOCOL.md --nats-url: nodes on an existing NATS server publish,
// deliver and resume; two nodes sharing it give every org one sequence
// without holes or duplicates (DESIGN.md invariant 2), and a client resumes
// on the other node.
func TestExternalNATS(t *testing.T) {
	t.Parallel()
	ns, a, b := nodesOnNATS(t)
	ctx := ctxFor(t, phase)
	if a.NATSURL() != ns.ClientURL() {
		t.Errorf("NATSURL %q, want %q", a.NATSURL(), ns.ClientURL())
	}
	if a.Epoch() != b.Epoch() {
		t.Fatalf("nodes on one store disagree on the epoch: %s, %s", a.Epoch(), b.Epoch())
	}
	const org = "shared"
	pub := a.Token(t, org, "backend", time.Hour, true)
	subA, _ := subscriber(ctx, t, a, org, "alice")
	subB, _ := subscriber(ctx, t, b, org, "bob")

	// Publishers on both nodes at once.
	var mu sync.Mutex
	var acked []uint64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i, nd := range []*testkit.Node{a, b, a, b} {
		wg.Go(func() {
			for r := range 15 {
				body := testkit.EventBody("t", fmt.Sprintf(`{"p":%d,"r":%d}`, i, r), "")
				if r%3 == 0 {
					body = testkit.BatchBody("t", 4)
				}
				st, resp, err := testkit.Post(ctx, nd.BaseURL(), org, pub, body)
				if err != nil || st != http.StatusCreated {
					errs <- fmt.Errorf("publisher %d: %d %s %v", i, st, resp, err)
					return
				}
				var ans testkit.SeqAnswer
				_ = json.Unmarshal(resp, &ans)
				mu.Lock()
				if ans.Seq != 0 {
					acked = append(acked, ans.Seq)
				}
				acked = append(acked, ans.Seqs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := uint64(len(acked))
	for name, c := range map[string]*testkit.Client{"node a": subA, "node b": subB} {
		got, err := c.CollectSeqs(ctx, int(total))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		testkit.AssertRange(t, got, 1, total)
	}
	// Resume on the other node.
	c := expectResumed(ctx, t, b, org, total/2, a.Epoch(), total)
	expectLive(ctx, t, a, c, org, total+1)
}
