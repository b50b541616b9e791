package node_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// startNATSCluster starts k nats-servers with JetStream joined by routes,
// as an operator's external cluster would run (each on its own loopback
// client port), and returns their client URLs.
func startNATSCluster(t *testing.T, k int) []string {
	t.Helper()
	ports := freePorts(t, k)
	urls := make([]string, k)
	for i := range k {
		var routes []*url.URL
		for j, p := range ports {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("ext%d", i), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "external", Host: "127.0.0.1", Port: ports[i]},
			Routes:  routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats-server %d not ready", i)
		}
		urls[i] = s.ClientURL()
	}
	return urls
}

// PROTOCOL.md --nats-url with a NATS cluster: two orgstream nodes, each on
// another server of an external 3-server JetStream cluster, the log
// replicated three times. Publishes through both nodes share one seq line,
// clients on both see it all, and a client resumes on the other node.
func TestExternalNATSCluster(t *testing.T) {
	t.Parallel()
	urls := startNATSCluster(t, 3)
	secret := []byte("one secret for the whole cluster")
	nodes := testkit.StartNodes(t, 2, func(i int, c *node.Config) {
		c.JWTSecret = secret
		c.NodeName = fmt.Sprintf("n%d", i)
		c.NATSURL = urls[i]
		c.Replicas = 3
	})
	ctx := ctxFor(t, 2*phase)
	if nodes[0].Epoch() != nodes[1].Epoch() {
		t.Fatalf("nodes disagree on the epoch: %s, %s", nodes[0].Epoch(), nodes[1].Epoch())
	}
	const org = "external"
	subs := make([]*testkit.Client, len(nodes))
	for i, n := range nodes {
		subs[i], _ = subscriber(ctx, t, n, org, fmt.Sprintf("u%d", i))
	}
	pub := nodes[0].Token(t, org, "backend", time.Hour, true)
	const total = 40
	for i := range total / 2 {
		for j, n := range nodes {
			seq := testkit.PublishEvent(t, n.BaseURL(), org, pub, "t", fmt.Sprintf(`{"n":%d}`, 2*i+j))
			if seq != uint64(2*i+j+1) {
				t.Fatalf("publish %d through node %d: seq %d", 2*i+j, j, seq)
			}
		}
	}
	for i, c := range subs {
		got, err := c.CollectSeqs(ctx, total)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		testkit.AssertRange(t, got, 1, total)
	}
	c := expectResumed(ctx, t, nodes[1], org, total-5, nodes[0].Epoch(), total)
	expectLive(ctx, t, nodes[0], c, org, total+1)
}
