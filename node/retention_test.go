package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// expectReset opens a stream resuming after last in epoch and checks the
// welcome (resumed false, head) and the reset that must follow it.
func expectReset(ctx context.Context, t *testing.T, n *testkit.Node, org string, last uint64, epoch, reason string, first, head uint64) *testkit.Client {
	t.Helper()
	c := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, org, "alice", time.Hour, false), last, epoch), nil)
	w := c.ExpectWelcome(ctx)
	if w.Resumed || w.Replay != nil || w.Head != head {
		t.Fatalf("resume after %d: welcome %s, want resumed false, head %d, no replay", last, w.Raw, head)
	}
	r := c.ExpectFrame(ctx, "reset")
	if r.Reason != reason || r.First != first || r.Head != head {
		t.Fatalf("resume after %d: reset %s, want reason %s first %d head %d", last, r.Raw, reason, first, head)
	}
	return c
}

// expectResumed opens a stream resuming after last and checks the welcome
// and the replay last+1..head.
func expectResumed(ctx context.Context, t *testing.T, n *testkit.Node, org string, last uint64, epoch string, head uint64) *testkit.Client {
	t.Helper()
	c := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, org, "alice", time.Hour, false), last, epoch), nil)
	w := c.ExpectWelcome(ctx)
	if !w.Resumed || w.Replay == nil || w.Replay.From != last+1 || w.Replay.To != head || w.Head != head {
		t.Fatalf("resume after %d: welcome %s, want resumed, replay {%d,%d}", last, w.Raw, last+1, head)
	}
	got, err := c.CollectSeqs(ctx, int(head-last))
	if err != nil {
		t.Fatalf("resume after %d: %v", last, err)
	}
	testkit.AssertRange(t, got, last+1, head)
	return c
}

// expectLive publishes one event and checks it is c's next frame with seq.
func expectLive(ctx context.Context, t *testing.T, n *testkit.Node, c *testkit.Client, org string, seq uint64) {
	t.Helper()
	pub := n.Token(t, org, "backend", time.Hour, true)
	if got := testkit.PublishEvent(t, n.BaseURL(), org, pub, "live", `{}`); got != seq {
		t.Fatalf("published seq %d, want %d", got, seq)
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != seq {
		t.Fatalf("live event %s, want seq %d", f.Raw, seq)
	}
}

// PROTOCOL.md "Resume": L older than what is retained (by count) gives
// welcome resumed:false then reset window_exceeded with first = the oldest
// retained seq, then live events from head on; L+1 = first still resumes.
func TestWindowExceededByCount(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.RetentionMaxEvents = 5 })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 8)
	for range 4 {
		testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "x", `{}`)
	}
	// Retained: 8..12.
	settle(t, n, "acme", 12)
	epoch := n.Epoch()
	// The store drops the oldest events past the count just after the
	// append that passed it; under load a resume from 0 a moment later can
	// still find seq 1 and replay it (seen once under make test). Wait
	// until seq 1 is gone; what is asserted below is what comes then.
	waitFor(t, phase, "seq 1 to leave the log", func() bool {
		wctx, cancel := context.WithTimeout(context.Background(), phase)
		defer cancel()
		c, _, err := testkit.DialErr(wctx, n.ResumeURL(n.Token(t, "acme", "probe", time.Hour, false), 0, epoch), nil)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		defer c.Close()
		w, err := c.ReadWelcome(wctx)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		return !w.Resumed
	})
	for _, last := range []uint64{0, 3, 6} {
		c := expectReset(ctx, t, n, "acme", last, epoch, "window_exceeded", 8, 12)
		c.Close()
	}
	c := expectReset(ctx, t, n, "acme", 1, epoch, "window_exceeded", 8, 12)
	expectLive(ctx, t, n, c, "acme", 13)
	// Retained now: 9..13.
	c = expectResumed(ctx, t, n, "acme", 8, epoch, 13)
	expectLive(ctx, t, n, c, "acme", 14)
}

// agedOut waits until every event of org aged out: a resume from 0 is then
// reset with first = head+1.
func agedOut(t *testing.T, n *testkit.Node, org string, head uint64) {
	t.Helper()
	waitFor(t, phase, "events to age out", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), phase)
		defer cancel()
		c, _, err := testkit.DialErr(ctx, n.ResumeURL(n.Token(t, org, "probe", time.Hour, false), 0, n.Epoch()), nil)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		defer c.Close()
		w, err := c.ReadWelcome(ctx)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if w.Resumed {
			return false
		}
		r, err := c.ReadFrame(ctx)
		if err != nil || r.Type != "reset" {
			t.Fatalf("probe: not resumed but %s (%v)", r.Raw, err)
		}
		return r.First == head+1
	})
}

// PROTOCOL.md "Resume" and --retention: events older than the retention are
// no longer replayable (reset window_exceeded, first = head+1 when nothing
// is retained), then live events from head on; DESIGN.md invariant 3: the
// org continues at head+1.
func TestRetentionByTime(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.Retention = 1500 * time.Millisecond })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 5)
	epoch := n.Epoch()
	settle(t, n, "acme", 5)

	// Still within retention: resumable.
	expectResumed(ctx, t, n, "acme", 2, epoch, 5).Close()

	agedOut(t, n, "acme", 5)
	c := expectReset(ctx, t, n, "acme", 2, epoch, "window_exceeded", 6, 5)
	// A fresh stream sees the head that outlived retention.
	fresh, w := subscriber(ctx, t, n, "acme", "bob")
	if w.Head != 5 {
		t.Fatalf("fresh welcome %s, want head 5", w.Raw)
	}
	expectLive(ctx, t, n, c, "acme", 6)
	if f := fresh.ExpectFrame(ctx, "event"); f.Seq != 6 {
		t.Fatalf("fresh stream got %s, want seq 6", f.Raw)
	}

	// Partly aged out: 6 is older than 7..9. Once a resume from 0 is reset,
	// first names the oldest retained seq: 7 while 7..9 are retained (then
	// resuming after 6 works), 10 once they are gone too.
	time.Sleep(700 * time.Millisecond) // half the retention: 6 ages out first
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "y", 3)
	settle(t, n, "acme", 9)
	var first uint64
	waitFor(t, phase, "seq 6 to age out", func() bool {
		rc := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, "acme", "probe", time.Hour, false), 0, epoch), nil)
		defer rc.Close()
		rc.ExpectWelcome(ctx)
		r := rc.ExpectFrame(ctx, "reset")
		first = r.First
		return first > 6
	})
	switch first {
	case 7:
		expectResumed(ctx, t, n, "acme", 6, epoch, 9).Close()
	case 10:
		t.Logf("7..9 aged out before the check (a slow run)")
	default:
		t.Fatalf("reset first %d, want 7 (or 10)", first)
	}
}

// DESIGN.md invariant 3 across a restart: an org whose events all aged out
// continues at head+1 on a node restarted on the same data dir (same
// epoch), not at 1 — a restart must not make seqs reused.
func TestAgedOutCounterSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	retention := 1500 * time.Millisecond
	n := testkit.StartNode(t, func(c *node.Config) { c.DataDir, c.Retention = dir, retention })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 6)
	epoch := n.Epoch()
	agedOut(t, n, "acme", 6)

	n.Stop(t)
	n2 := testkit.StartNode(t, func(c *node.Config) {
		c.DataDir, c.Retention, c.JWTSecret = dir, retention, n.Secret
	})
	if n2.Epoch() != epoch {
		t.Fatalf("epoch after restart %s, want %s", n2.Epoch(), epoch)
	}
	c := expectReset(ctx, t, n2, "acme", 3, epoch, "window_exceeded", 7, 6)
	expectLive(ctx, t, n2, c, "acme", 7)
	// The restarted node still resumes within retention.
	expectResumed(ctx, t, n2, "acme", 6, epoch, 7).Close()
}

// PROTOCOL.md "event": seqs have no reuse across a restart either, and a
// client resumes on the restarted node (same epoch) with what it missed.
func TestResumeAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := testkit.StartNode(t, func(c *node.Config) { c.DataDir = dir })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 10)
	epoch := n.Epoch()
	n.Stop(t)
	n2 := testkit.StartNode(t, func(c *node.Config) { c.DataDir, c.JWTSecret = dir, n.Secret })
	if n2.Epoch() != epoch {
		t.Fatalf("epoch after restart %s, want %s", n2.Epoch(), epoch)
	}
	testkit.PublishBatch(t, n2.BaseURL(), "acme", n2.Token(t, "acme", "backend", time.Hour, true), "y", 5)
	settle(t, n2, "acme", 15)
	c := expectResumed(ctx, t, n2, "acme", 4, epoch, 15)
	expectLive(ctx, t, n2, c, "acme", 16)
}
