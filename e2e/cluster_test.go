package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/persistence"
)

// cluster is k `orgstream serve` processes on loopback whose embedded NATS
// servers are joined by routes, with the log replicated on all of them
// (--replicas k). Node i is named n<i+1>; each keeps its ports and data dir
// across restarts.
type cluster struct {
	t      *testing.T
	secret string
	specs  []spec
	addrs  []string // HTTP host:port per node
	mu     sync.Mutex
	nodes  []*daemon
}

// startCluster starts k nodes at once (a clustered JetStream needs a quorum
// before any node can open its log) and waits until every node is ready and
// a publish through each of them is acknowledged. Nodes get only the flags
// PROTOCOL.md's cluster section names (and --listen, --data-dir,
// --nats-listen). The fallback from a taken 4222 to a free port is
// persistence's test; here it made one node's NATS take a port handed to
// another node a moment before.
func startCluster(t *testing.T, k int) *cluster {
	t.Helper()
	return startClusterWith(t, k)
}

// startClusterWith is startCluster with extra flags for every node.
func startClusterWith(t *testing.T, k int, extra ...string) *cluster {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	c := &cluster{t: t, secret: hex.EncodeToString(b), nodes: make([]*daemon, k)}
	// Distinct ports: freeAddr alone may hand out a port it handed out a
	// moment ago (then one node's HTTP would take another's route port).
	// The NATS client ports too: a node whose default 4222 is taken would
	// listen on a random port, which may be one handed out here a moment
	// ago to another node's HTTP (seen: "bind: address already in use").
	ports := freeAddrs(t, 3*k)
	c.addrs = ports[:k]
	routes := ports[k : 2*k]
	clients := ports[2*k:]
	for i := range k {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats://"+r)
			}
		}
		c.specs = append(c.specs, spec{
			DataDir: t.TempDir(),
			Env: []string{"ORGSTREAM_JWT_SECRET=" + c.secret, "ORGSTREAM_CLUSTER_SECRET=" + clusterSecret,
				"ORGSTREAM_NATS_PUBLISHER_PASSWORD=" + publisherPassword},
			Bare: true,
			Args: []string{
				"--node-name", fmt.Sprintf("n%d", i+1),
				"--cluster-listen", routes[i],
				"--nats-listen", clients[i],
				"--routes", strings.Join(others, ","),
				"--replicas", fmt.Sprint(k),
			},
		})
		c.specs[i].Args = append(c.specs[i].Args, extra...)
	}
	for i := range k {
		c.nodes[i] = launch(t, c.specs[i], c.addrs[i])
	}
	for i := range k {
		c.waitNode(i)
	}
	return c
}

// waitNode waits until node i answers /readyz 200 and acknowledges a
// publish (the proof that its log takes writes).
func (c *cluster) waitNode(i int) {
	c.t.Helper()
	d := c.node(i)
	if err := d.waitReady(2 * readyTimeout); err != nil {
		c.t.Fatalf("e2e: node n%d not ready: %v", i+1, err)
	}
	pub := c.token("warmup", "backend", true)
	deadline := time.Now().Add(readyTimeout)
	for {
		st, b, err := testkit.Post(context.Background(), d.Base, "warmup", pub, testkit.EventBody("warmup", "{}", ""))
		if err == nil && st == http.StatusCreated {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("e2e: node n%d takes no publish: %d %s %v", i+1, st, b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *cluster) node(i int) *daemon {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// restart starts node i again on its ports and data dir (after Kill).
func (c *cluster) restart(i int) {
	c.t.Helper()
	d := launch(c.t, c.specs[i], c.addrs[i])
	c.mu.Lock()
	c.nodes[i] = d
	c.mu.Unlock()
	c.waitNode(i)
}

func (c *cluster) token(org, sub string, publish bool) string {
	return testkit.Token(c.t, []byte(c.secret), org, sub, time.Hour, publish)
}

// streamLeader asks node via of the cluster which node leads the stream of
// org's partition (the nodes run the default partitions), as an operator
// does: the "log" member of its JSON metrics (PROTOCOL.md v2; the NATS port
// is closed to such a probe).
func (c *cluster) streamLeader(via int, org string) int {
	c.t.Helper()
	stream := persistence.PartitionStream(persistence.PartitionOf(org, persistence.DefaultPartitions))
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	for deadline := time.Now().Add(readyTimeout); ; {
		if leader := metricsLeader(hc, c.node(via).Base, stream); leader != "" {
			var i int
			if _, err := fmt.Sscanf(leader, "n%d", &i); err != nil || i < 1 || i > len(c.addrs) {
				c.t.Fatalf("e2e: stream leader %q is not a node of the cluster", leader)
			}
			return i - 1
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("e2e: n%d's metrics name no leader of %s", via+1, stream)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricsLeader reads GET /v2/realtime/metrics at base and returns the
// leader it names for stream ("" if none, or on any error).
func metricsLeader(hc *http.Client, base, stream string) string {
	return logStreams(hc, base)[stream]
}
