package persistence

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Holes: messages deleted from the middle of an org's log with JetStream's
// own API, as an operator (or whoever holds credentials that allow it)
// could. Read stops before a hole and starts after one, Bounds names the
// start of the contiguous tail, and a follower jumps over the hole without
// waiting for a new event.

// deleteSeqs deletes org's events with the given seqs from its partition's
// stream; revs maps each seq to its stream sequence.
func deleteSeqs(t *testing.T, nc *nats.Conn, l *JetStreamLog, org string, revs map[uint64]uint64, seqs ...uint64) {
	t.Helper()
	ctx := ctxT(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, l.part(org).stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range seqs {
		if err := s.DeleteMsg(ctx, revs[seq]); err != nil {
			t.Fatalf("delete seq %d (stream sequence %d): %v", seq, revs[seq], err)
		}
	}
}

// appendInterleaved appends n single events to org, each followed by one of
// another org (so stream sequences of org are not consecutive), and returns
// each seq's stream sequence.
func appendInterleaved(t *testing.T, l *JetStreamLog, org string, n int) map[uint64]uint64 {
	t.Helper()
	revs := make(map[uint64]uint64, n)
	other := samePartition(l, org, org+"-other")
	for range n {
		res := mustAppend(t, l, org, drafts(1, org)...)
		revs[res.Head.Seq] = res.Head.Rev
		mustAppend(t, l, other, drafts(1, "o")...)
	}
	return revs
}

// runs splits seqs into the runs of consecutive seqs Read returns.
func runs(seqs []uint64) [][]uint64 {
	var out [][]uint64
	for i, s := range seqs {
		if i == 0 || s != seqs[i-1]+1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], s)
	}
	return out
}

func TestJetStreamHoles(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	const n = 8
	cases := []struct {
		name    string
		deleted []uint64
		first   uint64 // Bounds' first; head stays n
	}{
		{"none", nil, 1},
		{"one in the middle", []uint64{4}, 5},
		{"two apart", []uint64{3, 6}, 7},
		{"two adjacent", []uint64{2, 3}, 4},
		{"the first (as if aged out)", []uint64{1}, 2},
		{"just before the last", []uint64{7}, 8},
		{"the last", []uint64{n}, n + 1},
		{"a middle one and the last", []uint64{3, n}, n + 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			org := fmt.Sprintf("org%d", i)
			ctx := ctxT(t)
			revs := appendInterleaved(t, l, org, n)
			if slices.Contains(tc.deleted, n) {
				// Another log sees a deleted tail through the head marker,
				// which is lazy: wait for it.
				eventually(t, 5*time.Second, "the head marker", func() bool { s, _ := l.markerSeq(ctx, org, true); return s == n })
			}
			deleteSeqs(t, nc, l, org, revs, tc.deleted...)
			var retained []uint64
			for s := uint64(1); s <= n; s++ {
				if !slices.Contains(tc.deleted, s) {
					retained = append(retained, s)
				}
			}

			// Bounds first, from a log that never read the org (the cheap
			// count check finds the hole), then from one that did.
			fresh := openJetStream(t, JetStreamConfig{Conn: nc})
			if first, head, err := fresh.Bounds(ctx, org); err != nil || first != tc.first || head != n {
				t.Fatalf("Bounds before any Read = %d, %d, %v; want %d, %d", first, head, err, tc.first, n)
			}

			// Read stops before each hole, and from inside one starts after it.
			for _, run := range runs(retained) {
				evs, err := l.Read(ctx, org, run[0], 100)
				if err != nil || !slices.Equal(seqsOf(evs), run) {
					t.Fatalf("Read(%d) = %v, %v; want %v", run[0], seqsOf(evs), err, run)
				}
			}
			for _, s := range tc.deleted {
				evs, err := l.Read(ctx, org, s, 100)
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) > 0 && evs[0].Seq <= s {
					t.Fatalf("Read(%d) of a deleted seq starts at %d", s, evs[0].Seq)
				}
			}
			if first, head, err := l.Bounds(ctx, org); err != nil || first != tc.first || head != n {
				t.Fatalf("Bounds = %d, %d, %v; want %d, %d", first, head, err, tc.first, n)
			}

			// A follower from the start delivers every retained event,
			// jumping over the holes, with no new event to push it.
			var c collector
			f, err := l.Follow(org, 0, c.add)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Stop()
			eventually(t, 10*time.Second, "the retained events", func() bool { return len(c.seqs()) >= len(retained) })

			// The next event continues at n+1.
			mustAppend(t, l, org, drafts(1, "next")...)
			want := append(retained, n+1)
			eventually(t, 10*time.Second, "event n+1", func() bool { return len(c.seqs()) >= len(want) })
			if got := c.seqs(); !slices.Equal(got, want) {
				t.Fatalf("followed %v, want %v", got, want)
			}
			// A deleted tail (first n+1) is now a hole below n+1.
			if first, head, err := l.Bounds(ctx, org); err != nil || first != tc.first || head != n+1 {
				t.Fatalf("Bounds after n+1 = %d, %d, %v; want %d, %d", first, head, err, tc.first, n+1)
			}
		})
	}
}

// A hole that later ages out of the log (by count) is forgotten: Bounds
// names the oldest retained seq again.
func TestJetStreamHoleAgesOut(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc, MaxEventsPerOrg: 4})
	ctx := ctxT(t)
	revs := appendInterleaved(t, l, "acme", 4)
	deleteSeqs(t, nc, l, "acme", revs, 2)
	if first, head, err := l.Bounds(ctx, "acme"); err != nil || first != 3 || head != 4 {
		t.Fatalf("Bounds = %d, %d, %v; want 3, 4", first, head, err)
	}
	for range 4 {
		mustAppend(t, l, "acme", drafts(1, "x")...)
	}
	// Retained: 5..8.
	if first, head, err := l.Bounds(ctx, "acme"); err != nil || first != 5 || head != 8 {
		t.Fatalf("Bounds after the hole aged out = %d, %d, %v; want 5, 8", first, head, err)
	}
	if _, ok := l.floors.Load("acme"); ok {
		t.Fatal("the aged-out hole is still remembered")
	}
}

// Many events with a hole far below the head: the bisection finds the
// floor, and the next Bounds reuses it.
func TestJetStreamHoleFloorSearch(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	ctx := ctxT(t)
	for range 3 {
		mustAppend(t, l, "acme", drafts(MaxBatch, "a")...)
		mustAppend(t, l, "other", drafts(500, "o")...)
	}
	// Stream sequences of acme's seq 700 and 2100.
	revs := map[uint64]uint64{}
	for _, s := range []uint64{700, 2100} {
		rev, _, ok, err := l.locate(ctx, "acme", s)
		if err != nil || !ok {
			t.Fatal(err)
		}
		revs[s] = rev
	}
	deleteSeqs(t, nc, l, "acme", revs, 700, 2100)
	for range 2 {
		fresh := openJetStream(t, JetStreamConfig{Conn: nc})
		if first, head, err := fresh.Bounds(ctx, "acme"); err != nil || first != 2101 || head != 3000 {
			t.Fatalf("Bounds = %d, %d, %v; want 2101, 3000", first, head, err)
		}
		if first, _, err := fresh.Bounds(ctx, "acme"); err != nil || first != 2101 {
			t.Fatalf("second Bounds = %d, %v; want 2101", first, err)
		}
		if v, ok := fresh.floors.Load("acme"); !ok || v.(floor).seq != 2101 {
			t.Fatalf("floor remembered = %v, %v", v, ok)
		}
	}
	// Under a steady stream of appends, a node that never met the hole may
	// not see it (then first is the oldest retained seq, and the first
	// replay across it meets it), but never reports a floor between the
	// holes; one whose Read met it always reports a floor at or past it.
	ctxA, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for ctxA.Err() == nil {
			if _, err := appendRetrying(ctxA, l, "acme", drafts(3, "b")); err != nil && ctxA.Err() == nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	fresh := openJetStream(t, JetStreamConfig{Conn: nc})
	for range 20 {
		fresh.floors.Delete("acme") // as a node that never read the org
		if first, _, err := fresh.Bounds(ctx, "acme"); err != nil || (first != 1 && first < 2101) {
			t.Fatalf("Bounds under appends: first %d, %v; want 1 or >= 2101", first, err)
		}
	}
	if evs, err := fresh.Read(ctx, "acme", 2000, 200); err != nil || len(evs) != 100 {
		t.Fatalf("Read across the hole = %d events, %v; want 2000..2099", len(evs), err)
	}
	for range 20 {
		if first, _, err := fresh.Bounds(ctx, "acme"); err != nil || first < 2101 {
			t.Fatalf("Bounds under appends after a Read met the hole: first %d, %v; want >= 2101", first, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
