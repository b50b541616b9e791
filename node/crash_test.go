package node_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

// crashingLog is the node's real log with one fault: once armed, the next
// call an org actor makes into it (on the actor's own goroutine) panics, as
// a bug in the actor would, and the fault is spent. A panic cannot be
// provoked from outside otherwise. Calls from anywhere else (the hub, the
// connections, the writers, the live feed) pass through untouched.
type crashingLog struct {
	persistence.Log
	armed atomic.Bool
}

// orgActorFrame names the org actor's methods in a stack trace.
const orgActorFrame = "/actors.(*orgActor)."

func (l *crashingLog) maybeCrash() {
	if !l.armed.Load() || !calledByOrgActor() {
		return
	}
	if l.armed.CompareAndSwap(true, false) {
		panic("node test: injected crash of an org actor")
	}
}

func calledByOrgActor() bool {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, orgActorFrame) {
			return true
		}
		if !more {
			return false
		}
	}
}

func (l *crashingLog) Epoch() string { l.maybeCrash(); return l.Log.Epoch() }

func (l *crashingLog) Head(ctx context.Context, org string) (persistence.Head, error) {
	l.maybeCrash()
	return l.Log.Head(ctx, org)
}

func (l *crashingLog) Bounds(ctx context.Context, org string) (uint64, uint64, error) {
	l.maybeCrash()
	return l.Log.Bounds(ctx, org)
}

func (l *crashingLog) LeaderHead(ctx context.Context, org string) (uint64, error) {
	l.maybeCrash()
	return l.Log.LeaderHead(ctx, org)
}

func (l *crashingLog) Read(ctx context.Context, org string, from uint64, max int) ([]messages.Event, error) {
	l.maybeCrash()
	return l.Log.Read(ctx, org, from, max)
}

func (l *crashingLog) Follow(org string, after uint64, fn func(messages.Event)) (persistence.Follower, error) {
	l.maybeCrash()
	return l.Log.Follow(org, after, fn)
}

// DESIGN.md invariant 9 (PROTOCOL.md: no silent gap, close codes): a panic
// in an org actor while clients are subscribed and a publisher keeps going
// restarts the actor; clients are not dropped, or only with a close code,
// and each (resuming when closed) ends with every seq exactly once, in
// order. The restarts are counted.
//
// The panic is a fault in the log the actors see (crashingLog, around the
// node's real JetStream log): armed, it fires on the org actor's next call
// into the log, which a new subscriber provokes (the actor reads the log's
// epoch to welcome it). That subscriber is a throwaway: the message it sent
// is the one the actor died on.
func TestOrgActorCrash(t *testing.T) {
	t.Parallel()
	fault := &crashingLog{}
	n := testkit.StartNode(t, func(c *node.Config) {
		node.WrapHubLog(c, func(l persistence.Log) persistence.Log {
			fault.Log = l
			return fault
		})
	})
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
		fault.armed.Store(true)
		trigger := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, org, fmt.Sprintf("trigger%d", k), time.Hour, false), nil), nil)
		waitFor(t, phase, "the crash", func() bool { return !fault.armed.Load() })
		waitFor(t, phase, "the restart counted", func() bool {
			return n.Metrics().OrgActorRestarts.Load() >= restarts+uint64(k)+1
		})
		trigger.Close()
	}
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
