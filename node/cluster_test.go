package node_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// freePorts reserves k loopback ports (listen, note, close).
func freePorts(t *testing.T, k int) []int {
	t.Helper()
	ports := make([]int, k)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		defer l.Close()
	}
	return ports
}

// embeddedCluster configures node i of an embedded cluster on ports (one
// route port each, the others as routes, R3, the shared secrets), then
// applies mutate (may be nil).
func embeddedCluster(ports []int, mutate func(i int, c *node.Config)) func(int, *node.Config) {
	return func(i int, c *node.Config) {
		c.JWTSecret = []byte("one secret for the whole cluster")
		c.NodeName = fmt.Sprintf("n%d", i)
		c.NATSListen = "127.0.0.1:0"
		c.ClusterListen = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.ClusterSecret = "one route secret for the whole cluster"
		c.NATSPublisherPassword = "one publisher password"
		for j, p := range ports {
			if j != i {
				c.Routes = append(c.Routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		c.Replicas = len(ports)
		if mutate != nil {
			mutate(i, c)
		}
	}
}

// PROTOCOL.md cluster flags and "event": three embedded nodes joined by
// routes with the log replicated three times. Publishers on every node at
// once; every org's seqs are 1..N without holes or duplicates on every
// node, and a client resumes on another node than the one it left.
func TestEmbeddedCluster(t *testing.T) {
	t.Parallel()
	const k = 3
	nodes := testkit.StartNodes(t, k, embeddedCluster(freePorts(t, k), nil))
	ctx := ctxFor(t, 2*phase)
	for _, n := range nodes[1:] {
		if n.Epoch() != nodes[0].Epoch() {
			t.Fatalf("nodes disagree on the epoch: %s, %s", n.Epoch(), nodes[0].Epoch())
		}
	}
	const org = "clustered"
	pub := nodes[0].Token(t, org, "backend", time.Hour, true)
	subs := make([]*testkit.Client, k)
	for i, n := range nodes {
		subs[i], _ = subscriber(ctx, t, n, org, fmt.Sprintf("u%d", i))
	}

	// Each publisher retries a 503 with the same ids, as a backend would.
	var mu sync.Mutex
	var acked []uint64
	refusals := 0
	var wg sync.WaitGroup
	errs := make(chan error, 2*k)
	for i := range 2 * k {
		n := nodes[i%k]
		wg.Go(func() {
			for r := range 10 {
				body := testkit.EventBody("t", fmt.Sprintf(`{"p":%d,"r":%d}`, i, r), fmt.Sprintf("p%d-r%d", i, r))
				if r%4 == 1 {
					body = `{"events":[`
					for e := range 3 {
						if e > 0 {
							body += ","
						}
						body += testkit.EventBody("t", `{}`, fmt.Sprintf("p%d-r%d-e%d", i, r, e))
					}
					body += `]}`
				}
				st, resp, err := postRetrying(ctx, n.BaseURL(), org, pub, body, func() {
					mu.Lock()
					refusals++
					mu.Unlock()
				})
				if err != nil || st != http.StatusCreated {
					errs <- fmt.Errorf("publisher %d: %d %s %v", i, st, resp, err)
					return
				}
				var a testkit.SeqAnswer
				_ = json.Unmarshal(resp, &a)
				mu.Lock()
				if a.Seq != 0 {
					acked = append(acked, a.Seq)
				}
				acked = append(acked, a.Seqs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sorted := slices.Clone(acked)
	slices.Sort(sorted)
	testkit.AssertAll(t, sorted, uint64(len(sorted)))
	total := uint64(len(acked))
	for i, c := range subs {
		got, err := c.CollectSeqs(ctx, int(total))
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		testkit.AssertRange(t, got, 1, total)
	}
	c := expectResumed(ctx, t, nodes[2], org, total-7, nodes[0].Epoch(), total)
	expectLive(ctx, t, nodes[1], c, org, total+1)
	t.Run("connect tickets across nodes", func(t *testing.T) {
		checkClusterTickets(ctx, t, nodes, "one publisher password")
	})

	// PROTOCOL.md v2: every node's JSON metrics name the same leader of
	// each stream, one of the nodes (each node asks the stream on its own).
	var leaders []map[string]string
	waitFor(t, phase, "the nodes to agree on the stream leaders", func() bool {
		leaders = leaders[:0]
		for _, n := range nodes {
			leaders = append(leaders, logLeaders(t, n.BaseURL()))
		}
		for _, l := range leaders {
			if !maps.Equal(l, leaders[0]) {
				return false
			}
		}
		return true
	})
	for stream := range logStreamsLedBy("") {
		if l := leaders[0][stream]; !slices.Contains([]string{"n0", "n1", "n2"}, l) {
			t.Errorf("stream %s led by %q per the metrics, want one of the nodes (%v)", stream, l, leaders)
		}
	}

	// Publishers on different nodes contend for the org's next seq; the log
	// arbitrates and the loser retries (DESIGN.md invariant 2). The log was
	// available throughout, so no publish should have been refused with 503.
	t.Run("no 503 under cross-node contention", func(t *testing.T) {
		if refusals > 0 {
			t.Errorf("%d publishes were refused with 503 while the log was available", refusals)
		}
	})
	// Every live message was the stream's own republish: none is refused
	// as forged, on any node (PROTOCOL.md Choices 24).
	t.Run("no genuine live message counted as forged", func(t *testing.T) {
		for i, n := range nodes {
			if f := n.Metrics().LiveForged.Load(); f != 0 {
				t.Errorf("node %d counted %d live messages as forged", i, f)
			}
		}
	})
}
