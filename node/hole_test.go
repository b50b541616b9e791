package node_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

// deleteEvent deletes org's event seq from the log's stream, as an
// operator (or anyone whose NATS credentials allow it) could with
// $JS.API.STREAM.MSG.DELETE.
func deleteEvent(ctx context.Context, t *testing.T, nc *nats.Conn, org string, seq uint64) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, persistence.PartitionStream(persistence.PartitionOf(org, persistence.DefaultPartitions)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for rev := info.State.FirstSeq; rev <= info.State.LastSeq; rev++ {
		m, err := s.GetMsg(ctx, rev)
		if err != nil {
			continue // deleted or another gap
		}
		if m.Subject == persistence.PartitionSubjectPrefix(persistence.PartitionOf(org, persistence.DefaultPartitions))+org && m.Header.Get(persistence.HeaderSeq) == strconv.FormatUint(seq, 10) {
			if err := s.DeleteMsg(ctx, rev); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s's event %d not found in the stream", org, seq)
}

// PROTOCOL.md "Resuming", a hole in the log: an event deleted from the
// middle of an org's log cannot be replayed. A resume whose replay would
// cross it gets welcome resumed:false and reset window_exceeded, first = the
// seq after the hole, then live events; never a 1011 (which the client
// would answer by resuming again, forever). A resume after the hole is
// served as usual.
func TestResumeAcrossDeletedEvent(t *testing.T) {
	t.Parallel()
	// A window of 2: the resumes below reach back into the log.
	n := testkit.StartNode(t, func(c *node.Config) { c.WindowSize = 2 })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	for range 6 {
		testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "x", `{}`)
	}
	settle(t, n, "acme", 6)
	deleteEvent(ctx, t, n.DaemonConn(), "acme", 3)
	epoch := n.Epoch()

	for _, last := range []uint64{0, 1, 2} {
		expectReset(ctx, t, n, "acme", last, epoch, "window_exceeded", 4, 6).Close()
	}
	expectResumed(ctx, t, n, "acme", 3, epoch, 6).Close()
	c := expectReset(ctx, t, n, "acme", 1, epoch, "window_exceeded", 4, 6)
	expectLive(ctx, t, n, c, "acme", 7)
	c.Close()

	// A client that resumes by itself (reconnecting with its last seq on
	// every close) gets one reset and goes on live: no close, one dial.
	f := &testkit.Follower{URL: resumeURLs(t, n, "acme", "carol"), Start: 2, StartEpoch: epoch, AllowReset: true}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(fctx, func(last uint64) bool { return last >= 8 }) }()
	waitFor(t, phase, "the follower's reset", func() bool { return len(f.Resets()) == 1 })
	testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "x", `{}`)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(phase):
		t.Fatal("the follower did not get seq 8")
	}
	cancel()
	if r := f.Resets()[0]; r.Reason != "window_exceeded" || r.First != 4 || r.Head != 7 {
		t.Fatalf("reset %s, want window_exceeded first 4 head 7", r.Raw)
	}
	if codes, dials := f.CloseCodes(), f.Dials(); len(codes) != 0 || dials != 1 {
		t.Fatalf("close codes %v over %d dials, want none over 1", codes, dials)
	}
	if got := f.Seqs(); len(got) != 1 || got[0] != 8 {
		t.Fatalf("follower got %v, want [8]", got)
	}
}
