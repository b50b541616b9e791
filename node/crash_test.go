package node_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// DESIGN.md invariant 9 (PROTOCOL.md: no silent gap, close codes): a panic
// in an org actor while clients are subscribed and a publisher keeps going
// restarts the actor; clients are not dropped, or only with a close code,
// and each (resuming when closed) ends with every seq exactly once, in
// order. The restarts are counted.
func TestOrgActorCrash(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, 2*phase)
	const org, clients, crashes = "crashy", 8, 3
	pub := n.Token(t, org, "backend", time.Hour, true)

	var finalMu sync.Mutex
	var final uint64
	isDone := func(last uint64) bool {
		finalMu.Lock()
		defer finalMu.Unlock()
		return final != 0 && last >= final
	}
	followers := make([]*testkit.Follower, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range followers {
		followers[i] = &testkit.Follower{URL: resumeURLs(t, n, org, fmt.Sprintf("u%d", i))}
		wg.Go(func() { errs[i] = followers[i].Run(ctx, isDone) })
	}
	waitFor(t, phase, "followers connected", func() bool { return n.Metrics().Connections.Load() == clients })

	restarts := n.Metrics().OrgActorRestarts.Load()
	bg := publishInBackground(t, n.BaseURL(), org, pub, 0, true)
	for k := range crashes {
		waitFor(t, phase, "more events", func() bool { return bg.count() >= 100*(k+1) })
		if !n.Hub().CrashOrg(org) {
			t.Fatalf("CrashOrg(%s): no actor", org)
		}
	}
	waitFor(t, phase, "the restarts counted", func() bool {
		return n.Metrics().OrgActorRestarts.Load() >= restarts+crashes
	})
	waitFor(t, phase, "events after the last crash", func() bool { return bg.count() >= 100*crashes+100 })
	acked := bg.finish(t)
	testkit.AssertAll(t, acked, uint64(len(acked)))
	finalMu.Lock()
	final = uint64(len(acked))
	finalMu.Unlock()

	wg.Wait()
	for i, f := range followers {
		if errs[i] != nil {
			t.Errorf("follower %d: %v", i, errs[i])
			continue
		}
		if err := testkit.CheckRange(f.Seqs(), 1, final); err != nil {
			t.Errorf("follower %d: %v", i, err)
		}
		for _, code := range f.CloseCodes() {
			if code == -1 {
				t.Errorf("follower %d was dropped without a close code", i)
			}
		}
		if len(f.CloseCodes()) > 0 {
			t.Logf("follower %d closed with %v and resumed", i, f.CloseCodes())
		}
	}
	t.Logf("%d events, %d restarts", final, n.Metrics().OrgActorRestarts.Load()-restarts)
}
