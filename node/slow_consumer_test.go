package node_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
)

// PROTOCOL.md close code 4008 and DESIGN.md invariant 7: a client that stops
// reading while its org is flooded is cut (4008, seen when it reads again,
// after a prefix of the events without a gap), other clients of the org see
// every seq exactly once, the cut is counted, and the node's heap does not
// grow with the backlog. The slow client then resumes and gets the rest.
func TestSlowConsumerCut4008(t *testing.T) {
	// Not parallel: the heap guard below reads the process's heap, which
	// parallel tests (large events, floods) grow by hundreds of MiB.
	n := testkit.StartNode(t, func(c *node.Config) { c.MaxQueueBytes = messages.MaxPublishFrames })
	ctx := ctxFor(t, 2*phase)
	const org = "flood"
	pub := n.Token(t, org, "backend", time.Hour, true)
	u := n.StreamURL(n.Token(t, org, "slow", time.Hour, false), nil)

	// A small receive buffer makes the socket back up after a few KiB.
	slow, err := testkit.RawDialer{RecvBuffer: 8 << 10}.Dial(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	w, _, err := slow.ReadDataFrame(time.Now().Add(phase))
	if err != nil || w.Type != "welcome" {
		t.Fatalf("welcome: %v", err)
	}

	var finalMu sync.Mutex
	var final uint64
	isDone := func(last uint64) bool {
		finalMu.Lock()
		defer finalMu.Unlock()
		return final != 0 && last >= final
	}
	readers := make([]*testkit.Follower, 3)
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i := range readers {
		readers[i] = &testkit.Follower{URL: resumeURLs(t, n, org, fmt.Sprintf("reader%d", i))}
		wg.Go(func() { errs[i] = readers[i].Run(ctx, isDone) })
	}
	waitFor(t, phase, "readers connected", func() bool { return n.Metrics().Connections.Load() == 4 })

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	// Flood with ~1 KiB events in batches of 20 until the slow one is cut
	// (at most 8 MiB), then a little more. Not much more: the server's
	// blocked write to the slow socket gives up after its write timeout
	// (10s), and the 4008 frame can only follow if the client reads again
	// before that.
	data := `{"pad":"` + strings.Repeat("x", 1000) + `"}`
	batch := `{"events":[` + strings.Repeat(testkit.EventBody("flood", data, "")+",", 19) + testkit.EventBody("flood", data, "") + `]}`
	var published uint64
	extra := 0
	for published < 8<<10 && extra < 5 {
		a := publishAnswer(t, n, org, pub, batch, 201)
		published = a.Seqs[len(a.Seqs)-1]
		if n.Metrics().SlowConsumerCuts.Load() > 0 {
			extra++
		}
	}
	// The delivery may trail the acknowledgements on a loaded box: the
	// cut comes once the org actor has queued past the bound.
	waitFor(t, phase, fmt.Sprintf("a slow consumer cut after %d events of ~1 KiB", published),
		func() bool { return n.Metrics().SlowConsumerCuts.Load() > 0 })
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// A gross-regression guard only (the package's sequential tests share
	// the heap): the backlog of a client that does not read must not stay
	// in memory.
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 256<<20 {
		t.Errorf("heap in use grew by %d MiB during the flood", grow>>20)
	}
	t.Logf("published %d events, heap in use %d -> %d MiB", published, before.HeapInuse>>20, after.HeapInuse>>20)

	// The slow client reads again: a gap-free prefix, then 4008.
	var seqs []uint64
	deadline := time.Now().Add(phase)
	for {
		f, _, err := slow.ReadDataFrame(deadline)
		var ce *testkit.RawCloseError
		if errors.As(err, &ce) {
			if ce.Code != 4008 {
				t.Fatalf("slow client closed with %d, want 4008", ce.Code)
			}
			break
		}
		if err != nil {
			t.Fatalf("slow client: stream ended without a close frame after %d events: %v", len(seqs), err)
		}
		seqs = append(seqs, f.Seq)
	}
	last := uint64(0)
	if len(seqs) > 0 {
		last = seqs[len(seqs)-1]
		testkit.AssertRange(t, seqs, 1, last)
	}
	if last >= published {
		t.Fatalf("slow client got all %d events before its cut", last)
	}

	finalMu.Lock()
	final = published
	finalMu.Unlock()
	// It resumes and gets the rest.
	rc := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, org, "slow", time.Hour, false), last, w.Epoch), nil)
	rw := rc.ExpectWelcome(ctx)
	if !rw.Resumed {
		t.Fatalf("slow client's resume: %s", rw.Raw)
	}
	rest, err := rc.CollectSeqs(ctx, int(published-last))
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertRange(t, rest, last+1, published)

	wg.Wait()
	for i, r := range readers {
		if errs[i] != nil {
			t.Fatalf("reader %d: %v", i, errs[i])
		}
		testkit.AssertRange(t, r.Seqs(), 1, published)
		if codes := r.CloseCodes(); len(codes) > 0 {
			t.Logf("reader %d was cut and resumed (codes %v)", i, codes)
		}
	}
	cuts := n.Metrics().SlowConsumerCuts.Load()
	t.Logf("slow consumer cuts: %d", cuts)
}
