package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestClusterLeaderKill (issue 4): kill -9 of the node that leads the log's
// stream while publishers on every node publish; then the killed node is
// started again. See failover for what is checked.
func TestClusterLeaderKill(t *testing.T) {
	closeIdle(t)
	c := startCluster(t, 3)
	failover(t, c, "delta")
}

// TestClusterLeaderKillRepeated is the long variant (make
// test-cluster-long): three kill -9 of whichever node leads the stream,
// each followed by a restart, on one cluster and one org.
func TestClusterLeaderKillRepeated(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("ORGSTREAM_CLUSTER_ROUNDS"))
	if rounds == 0 {
		t.Skip("long variant: make test-cluster-long (ORGSTREAM_CLUSTER_ROUNDS=N)")
	}
	closeIdle(t)
	c := startCluster(t, 3)
	for r := range rounds {
		t.Logf("round %d", r+1)
		failover(t, c, fmt.Sprintf("round%d", r+1))
	}
}

// failoverFigures is what one failover measured.
type failoverFigures struct {
	unavailable time.Duration // longest time without an acknowledgement after the kill
	failures    int           // publish attempts answered with an error (or not at all)
	notReady    int           // /readyz answers other than 200 on the survivors
	acked       int           // events acknowledged in all
	rejoin      time.Duration // from the restart of the killed node to its first acknowledged publish
}

// failover kills the leader of org's partition stream in c with SIGKILL while three publishers
// (one per node; a failed publish is retried with its ids on the next node)
// publish into org, and checks:
//   - every acknowledged seq reaches a client on each surviving node, which
//     stays connected throughout, exactly once, in order, with its data;
//   - a client that was on the killed node reconnects to the others and
//     resumes with no gap and no duplicate;
//   - publishes are acknowledged again after the election;
//   - the killed node, restarted on its data dir, rejoins: a client resumes
//     on it and a publish through it is acknowledged and delivered.
func failover(t *testing.T, c *cluster, org string) failoverFigures {
	ctx := phase(t)
	k := len(c.specs)
	leader := c.streamLeader(0, org)
	var survivors []int
	for i := range k {
		if i != leader {
			survivors = append(survivors, i)
		}
	}
	t.Logf("stream leader: n%d", leader+1)

	// Clients that stay on the survivors, and one that starts on the
	// leader and moves to the next node whenever its connection ends.
	var stayers []*testkit.Client
	var epoch string
	for _, i := range survivors {
		cl := testkit.Dial(ctx, t, testkit.StreamURL(c.node(i).Base, c.token(org, fmt.Sprintf("stay%d", i), false), nil), nil)
		w := cl.ExpectWelcome(ctx)
		if w.Head != 0 {
			t.Fatalf("welcome on a fresh org: %s", w.Raw)
		}
		epoch = w.Epoch
		stayers = append(stayers, cl)
	}
	var final atomic.Uint64
	mover := &testkit.Follower{
		Start: 0, StartEpoch: epoch,
	}
	moverTok := c.token(org, "mover", false)
	dial := leader - 1
	mover.URL = func(last uint64, epoch string, resume bool) string {
		dial++
		return testkit.StreamURL(c.node((dial+k)%k).Base, moverTok, testkit.ResumeQuery(last, epoch))
	}
	moverErr := make(chan error, 1)
	go func() {
		moverErr <- mover.Run(ctx, func(last uint64) bool { n := final.Load(); return n > 0 && last >= n })
	}()

	// Survivors' readiness, sampled every 100ms until the end.
	var fig failoverFigures
	readyCtx, stopReady := context.WithCancel(ctx)
	var readiness sync.WaitGroup
	var notReady atomic.Int64
	for _, i := range survivors {
		readiness.Go(func() {
			hc := &http.Client{Timeout: time.Second}
			defer hc.CloseIdleConnections()
			for readyCtx.Err() == nil {
				req, _ := http.NewRequestWithContext(readyCtx, http.MethodGet, c.node(i).Base+"/readyz", nil)
				if resp, err := hc.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						notReady.Add(1)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}

	// Publishers, each recording when its acknowledgements came.
	l := newLedger()
	pubCtx, stopPub := context.WithCancel(ctx)
	var mu sync.Mutex
	var ackTimes []time.Time
	var failures atomic.Int64
	var pubs sync.WaitGroup
	pubErrs := make(chan error, k)
	for p := range k {
		pubs.Go(func() {
			tok := c.token(org, "backend", true)
			for n := 0; pubCtx.Err() == nil; n++ {
				e := ev{Topic: "orders", Data: eventData(p, n), ID: fmt.Sprintf("%s-p%d-%d", org, p, n)}
				for attempt := 0; ; attempt++ {
					node := (p + attempt) % k
					actx, cancel := context.WithTimeout(ctx, 15*time.Second)
					_, err := l.publish(actx, c.node(node).Base, org, tok, []ev{e}, false)
					cancel()
					if err == nil {
						mu.Lock()
						ackTimes = append(ackTimes, time.Now())
						mu.Unlock()
						break
					}
					failures.Add(1)
					if ctx.Err() != nil {
						pubErrs <- fmt.Errorf("publisher %d: event %d never acknowledged: %v", p, n, err)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	acksAfter := func(at time.Time) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range ackTimes {
			if a.After(at) {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, ok func() bool) {
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitFor("100 acknowledgements", func() bool { return l.count() >= 100 })
	killed := time.Now()
	c.node(leader).Kill()
	t.Logf("killed n%d (kill -9) after %d acknowledgements", leader+1, l.count())
	waitFor("200 acknowledgements after the kill", func() bool { return acksAfter(killed) >= 200 })
	stopPub()
	pubs.Wait()
	close(pubErrs)
	for err := range pubErrs {
		t.Fatal(err)
	}
	fig.unavailable = longestGap(ackTimes, killed)
	fig.failures = int(failures.Load())
	fig.acked = l.count()
	l.check(t)

	n := uint64(l.count())
	acked := l.ackedSeqs()
	if acked[len(acked)-1] != n {
		t.Fatalf("%d events acknowledged, the highest seq is %d", n, acked[len(acked)-1])
	}
	for j, cl := range stayers {
		events, err := cl.CollectEvents(ctx, int(n))
		if err != nil {
			t.Fatalf("client on n%d: %v", survivors[j]+1, err)
		}
		l.verifyStored(t, events) // 1..n exactly once, in order, data as acked
	}
	final.Store(n)
	if err := <-moverErr; err != nil {
		t.Fatalf("client that was on n%d: %v", leader+1, err)
	}
	if mover.Dials() < 2 {
		t.Errorf("the client of the killed n%d dialled %d times: it never moved to another node", leader+1, mover.Dials())
	}

	// The killed node rejoins: a client resumes on it, a publish through it
	// is acknowledged and reaches the clients on the others.
	restarted := time.Now()
	c.restart(leader) // returns once it is ready and acknowledged a publish
	fig.rejoin = time.Since(restarted)
	stopReady()
	readiness.Wait()
	fig.notReady = int(notReady.Load())
	back, _ := resume(ctx, t, c.node(leader), c.token(org, "back", false), n/2, epoch)
	replayed, err := back.CollectEvents(ctx, int(n-n/2))
	if err != nil {
		t.Fatalf("resume on the restarted n%d: %v", leader+1, err)
	}
	seqs := make([]uint64, len(replayed))
	for i, f := range replayed {
		seqs[i] = f.Seq
	}
	if err := testkit.CheckRange(seqs, n/2+1, n); err != nil {
		t.Fatalf("resume on the restarted node after %d: %v", n/2, err)
	}
	next := ev{Topic: "orders", Data: `{"after":"rejoin"}`, ID: org + "-rejoin"}
	got, err := c.publishRetry(ctx, l, leader, org, []ev{next}, false)
	if err != nil || got[0] != n+1 {
		t.Fatalf("publish through the restarted node: seqs %v, %v; want [%d]", got, err, n+1)
	}
	for _, cl := range append(stayers, back) {
		if f := cl.ExpectFrame(ctx, "event"); f.Seq != n+1 {
			t.Fatalf("after the rejoin: %s, want seq %d", f.Raw, n+1)
		}
	}

	if fig.notReady == 0 {
		t.Errorf("/readyz of the survivors never answered 503 during the %s without writes", fig.unavailable.Round(time.Millisecond))
	}
	t.Logf("failover figures: writes unavailable %s (longest time without an ack after the kill), %d acknowledged, none lost or duplicated (checked above), "+
		"%d failed publish attempts retried, %d non-200 /readyz samples on the survivors, mover dialled %d times, "+
		"restarted node serving after %s",
		fig.unavailable.Round(time.Millisecond), fig.acked, fig.failures, fig.notReady, mover.Dials(), fig.rejoin.Round(time.Millisecond))
	return fig
}

// longestGap is the longest time between two acknowledgements (or between
// the kill and the first one) among acks after the kill. Acks arrive from
// three publishers, so it is how long no write got through.
func longestGap(acks []time.Time, killed time.Time) time.Duration {
	sorted := slices.SortedFunc(slices.Values(acks), time.Time.Compare)
	var gap time.Duration
	prev := killed
	for _, a := range sorted {
		if a.Before(killed) {
			continue
		}
		gap = max(gap, a.Sub(prev))
		prev = a
	}
	return gap
}
