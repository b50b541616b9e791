package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestCluster runs on one 3-node cluster of real processes (issue 4):
// publishers on every node into the same orgs, clients on every node, and
// clients that hop from node to node with last_seq and epoch.
func TestCluster(t *testing.T) {
	closeIdle(t)
	c := startCluster(t, 3)
	t.Run("PublishersOnEveryNode", func(t *testing.T) { testPublishersOnEveryNode(t, c) })
	t.Run("ResumeOnAnotherNode", func(t *testing.T) { testResumeOnAnotherNode(t, c) })
	t.Run("AnotherSecretNeverJoins", func(t *testing.T) { testAnotherSecretNeverJoins(t, c) })
}

// testAnotherSecretNeverJoins: a fourth node routed to the cluster with
// another --cluster-secret never becomes ready (PROTOCOL.md v2), and the
// cluster goes on taking publishes on every node meanwhile.
func testAnotherSecretNeverJoins(t *testing.T, c *cluster) {
	var routes []string
	for _, s := range c.specs {
		for i, a := range s.Args {
			if a == "--cluster-listen" {
				routes = append(routes, "nats://"+s.Args[i+1])
			}
		}
	}
	addrs := freeAddrs(t, 2)
	intruder := launch(t, spec{
		DataDir: t.TempDir(),
		Env: []string{"ORGSTREAM_JWT_SECRET=" + c.secret, "ORGSTREAM_CLUSTER_SECRET=not the cluster's secret",
			"ORGSTREAM_NATS_PUBLISHER_PASSWORD=" + publisherPassword},
		Bare: true,
		Args: []string{"--node-name", "n4", "--cluster-listen", addrs[1], "--routes", strings.Join(routes, ","), "--replicas", "3"},
	}, addrs[0])
	defer intruder.Kill()
	if err := intruder.waitReady(8 * time.Second); err == nil {
		t.Fatal("a node with another cluster secret became ready")
	}
	if intruder.exited() {
		t.Fatalf("the node with another secret exited instead of waiting:\n%s", intruder.Output())
	}
	pub := c.token("joined", "backend", true)
	for i := range c.specs {
		st, b, err := testkit.Post(context.Background(), c.node(i).Base, "joined", pub, testkit.EventBody("t", "{}", ""))
		if err != nil || st != http.StatusCreated {
			t.Fatalf("n%d while the intruder tried to join: %d %s %v", i+1, st, b, err)
		}
	}
}

// testPublishersOnEveryNode: six publishers, two per node, send singles and
// batches into the same two orgs at once. A client on every node, connected
// throughout, receives exactly 1..N of each org with the data each seq was
// acknowledged for (so every node saw the same line), and clients that
// disconnect every few events and resume on the next node see 1..N too.
func testPublishersOnEveryNode(t *testing.T, c *cluster) {
	orgs := []string{"alpha", "beta"}
	const perPublisher = 40 // publish calls per publisher per org
	ctx := phase(t)

	ledgers := map[string]*ledger{}
	stayers := map[string][]*testkit.Client{}
	for _, org := range orgs {
		ledgers[org] = newLedger()
		for i := range c.specs {
			cl := testkit.Dial(ctx, t, testkit.StreamURL(c.node(i).Base, c.token(org, fmt.Sprintf("stay%d", i), false), nil), nil)
			if w := cl.ExpectWelcome(ctx); w.Head != 0 {
				t.Fatalf("welcome on a fresh org %s: %s", org, w.Raw)
			}
			stayers[org] = append(stayers[org], cl)
		}
	}

	// Hoppers: resume on the next node after a random number of events.
	var final sync.Map // org → uint64, known once publishing ended
	var hoppers sync.WaitGroup
	hopErrs := make(chan error, 2*len(orgs))
	var hops atomic.Int64
	for _, org := range orgs {
		for h := range 2 {
			tok := c.token(org, fmt.Sprintf("hop%d", h), false)
			dial := h
			f := &testkit.Follower{
				URL: func(last uint64, epoch string, resume bool) string {
					dial++
					var q url.Values
					if resume {
						q = testkit.ResumeQuery(last, epoch)
						hops.Add(1)
					}
					return testkit.StreamURL(c.node(dial%len(c.specs)).Base, tok, q)
				},
				Disconnect: func() int { return 5 + rand.IntN(30) },
			}
			hoppers.Go(func() {
				err := f.Run(ctx, func(last uint64) bool {
					n, ok := final.Load(org)
					return ok && last >= n.(uint64)
				})
				if err != nil {
					hopErrs <- fmt.Errorf("hopper %s/%d: %w", org, h, err)
				}
			})
		}
	}

	var pubs sync.WaitGroup
	pubErrs := make(chan error, 6)
	for p := range 6 {
		node := p % len(c.specs)
		pubs.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 7))
			for n := range perPublisher {
				for _, org := range orgs {
					size := 1
					if n%5 == 2 {
						size = 2 + r.IntN(4)
					}
					evs := make([]ev, size)
					for i := range evs {
						evs[i] = ev{Topic: "orders." + org, Data: eventData(p, n*10+i),
							ID: fmt.Sprintf("p%d-%d-%d", p, n, i)}
					}
					if _, err := c.publishRetry(ctx, ledgers[org], node, org, evs, size > 1); err != nil {
						pubErrs <- fmt.Errorf("publisher %d on n%d: %w", p, node+1, err)
						return
					}
				}
			}
		})
	}
	pubs.Wait()
	close(pubErrs)
	for err := range pubErrs {
		t.Fatal(err)
	}

	for _, org := range orgs {
		l := ledgers[org]
		l.check(t)
		n := uint64(l.count())
		final.Store(org, n)
		for i, cl := range stayers[org] {
			events, err := cl.CollectEvents(ctx, int(n))
			if err != nil {
				t.Fatalf("org %s, client on n%d: %v", org, i+1, err)
			}
			l.verifyStored(t, events) // 1..n, each with the data acked for its seq
		}
	}
	hoppers.Wait()
	close(hopErrs)
	for err := range hopErrs {
		t.Error(err)
	}
	if hops.Load() == 0 {
		t.Error("no client resumed on another node: the hoppers never hopped")
	}
	t.Logf("%d acknowledged events per org, %d resumes on another node", ledgers[orgs[0]].count(), hops.Load())
}

// testResumeOnAnotherNode: a client reads on n1, disconnects, and resumes
// on n2 with the last_seq and epoch n1 gave it while a publisher on n3
// goes on: the replay starts right after what it saw, no gap, no duplicate.
func testResumeOnAnotherNode(t *testing.T, c *cluster) {
	const org = "gamma"
	ctx := phase(t)
	sub := c.token(org, "alice", false)
	l := newLedger()
	publish := func(k int, from int) error {
		for i := range k {
			e := ev{Topic: "t", Data: eventData(9, from+i), ID: fmt.Sprintf("g-%d", from+i)}
			if _, err := c.publishRetry(ctx, l, 2, org, []ev{e}, false); err != nil {
				return err
			}
		}
		return nil
	}
	a := testkit.Dial(ctx, t, testkit.StreamURL(c.node(0).Base, sub, nil), nil)
	epoch := a.ExpectWelcome(ctx).Epoch
	if err := publish(20, 0); err != nil {
		t.Fatal(err)
	}
	seen, err := a.CollectSeqs(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertAll(t, seen, 20)
	a.Close()

	// Publishing goes on while the client is away and while it resumes.
	published := make(chan error, 1)
	go func() { published <- publish(30, 20) }()
	b, w := resume(ctx, t, c.node(1), sub, 20, epoch)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if w.Head < 20 {
		t.Fatalf("welcome on n2: %s", w.Raw)
	}
	events, err := b.CollectEvents(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(events))
	for i, e := range events {
		seqs[i] = e.Seq
	}
	testkit.AssertRange(t, seqs, 21, 50)
	l.check(t)
}

// publishRetry publishes evs through node `at` and, on any failure (a 503
// while the log elects a leader, a node that is gone), retries the same
// body, with its ids, on the next node until it is acknowledged or ctx ends.
// The ids make a retry of an event that was stored but not acknowledged
// return its first seq.
func (c *cluster) publishRetry(ctx context.Context, l *ledger, at int, org string, evs []ev, batch bool) ([]uint64, error) {
	tok := c.token(org, "backend", true)
	for attempt := 0; ; attempt++ {
		node := (at + attempt) % len(c.specs)
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		seqs, err := l.publish(actx, c.node(node).Base, org, tok, evs, batch)
		cancel()
		if err == nil {
			return seqs, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("publish to %s not acknowledged: %w (last: %v)", org, ctx.Err(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
