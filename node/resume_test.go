package node_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// PROTOCOL.md "Resume": with last_seq=L and the current epoch the server
// sends welcome resumed:true, replay {L+1, head}, then exactly L+1 … head,
// then live events, with no gap and no duplicate at the seam even while
// events are published during the replay. Twenty clients drop their
// connection at random points and resume, over and over, while a publisher
// keeps going; each ends with every seq exactly once, in order.
func TestResumeSeamUnderPublishing(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, 2*phase)
	const org, clients, events = "seam", 20, 1500
	pub := n.Token(t, org, "backend", time.Hour, true)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	followers := make([]*testkit.Follower, clients)
	for i := range followers {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		var mu sync.Mutex
		followers[i] = &testkit.Follower{
			URL: resumeURLs(t, n, org, fmt.Sprintf("user%d", i%7)),
			Disconnect: func() int {
				mu.Lock()
				defer mu.Unlock()
				return 1 + rng.IntN(60)
			},
		}
	}
	// Followers start before the publisher, so their first stream begins
	// at head 0 and they must see every seq from 1. The final seq is known
	// once the publisher stopped.
	var wg sync.WaitGroup
	errs := make([]error, clients)
	var finalMu sync.Mutex
	var finalSeq uint64
	isDone := func(last uint64) bool {
		finalMu.Lock()
		defer finalMu.Unlock()
		return finalSeq != 0 && last >= finalSeq
	}
	for i, f := range followers {
		wg.Go(func() { errs[i] = f.Run(ctx, isDone) })
	}
	// Wait until every follower holds a stream, so none starts late.
	waitFor(t, phase, "followers connected", func() bool {
		return n.Metrics().Connections.Load() >= clients
	})

	start := time.Now()
	bg := publishInBackground(t, n.BaseURL(), org, pub, events, false)
	<-bg.done
	t.Logf("published in %v", time.Since(start))
	acked := bg.finish(t)
	testkit.AssertAll(t, acked, uint64(len(acked)))
	finalMu.Lock()
	finalSeq = uint64(len(acked))
	finalMu.Unlock()

	wg.Wait()
	t.Logf("followers done after %v", time.Since(start))
	resumes := 0
	for i, f := range followers {
		if errs[i] != nil {
			t.Errorf("follower %d: %v", i, errs[i])
			continue
		}
		if err := testkit.CheckRange(f.Seqs(), 1, finalSeq); err != nil {
			t.Errorf("follower %d: %v", i, err)
		}
		resumes += f.Dials() - 1
	}
	t.Logf("%d events, %d resumes, replayed_total %d", finalSeq, resumes, n.Metrics().Replayed.Load())
	if resumes < clients*5 {
		t.Errorf("only %d resumes: the seam was hardly exercised", resumes)
	}
}

// PROTOCOL.md "Resume" from the log: a position older than the node's
// in-memory window (node.Config.WindowSize) is replayed from the log, then
// the window, then live, while publishing continues.
func TestResumeBeyondWindowFromLog(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		window int // 0 = the default, 1024
		events int
		lasts  []uint64
	}{
		{"window 50", 50, 600, []uint64{0, 7, 549, 550, 590}},
		{"default window", 0, 3000, []uint64{0, 1500, 2990}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := testkit.StartNode(t, func(c *node.Config) { c.WindowSize = tc.window })
			ctx := ctxFor(t, phase)
			const org = "deep"
			pub := n.Token(t, org, "backend", time.Hour, true)
			for left := tc.events; left > 0; left -= 1000 {
				testkit.PublishBatch(t, n.BaseURL(), org, pub, "bulk", min(left, 1000))
			}
			settle(t, n, org, uint64(tc.events))
			head, epoch := n.Head(t, org)
			if head != uint64(tc.events) {
				t.Fatalf("head %d, want %d", head, tc.events)
			}

			bg := publishInBackground(t, n.BaseURL(), org, pub, 300, false)
			for _, last := range tc.lasts {
				c := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, org, "alice", time.Hour, false), last, epoch), nil)
				w := c.ExpectWelcome(ctx)
				if !w.Resumed || w.Replay == nil || w.Replay.From != last+1 || w.Replay.To != w.Head || w.Head < head {
					t.Fatalf("resume after %d: welcome %s, want resumed, replay {%d, head>=%d}", last, w.Raw, last+1, head)
				}
				// Everything up to the replay's end, and 20 live events after it.
				got, err := c.CollectSeqs(ctx, int(w.Head-last)+20)
				if err != nil {
					t.Fatalf("resume after %d: %v", last, err)
				}
				testkit.AssertRange(t, got, last+1, w.Head+20)
				c.Close()
			}
			acked := bg.finish(t)
			testkit.AssertRange(t, acked, head+1, head+uint64(len(acked)))
		})
	}
}
