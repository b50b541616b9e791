package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// A batch holding a duplicate ID is all or nothing too, whenever it fails:
// appends cut off by deadlines of growing length leave each org either
// without the new drafts or with all of them at consecutive seqs, never a
// first part of them (the draft-by-draft append did).
func TestJetStreamBatchWithDuplicateAllOrNothing(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	const n = 200
	ds := drafts(n, "n")
	ds[1] = draft("t", "a", `"dup"`)
	var orgs []string
	for i := range 40 {
		org := fmt.Sprintf("acme%d", i)
		orgs = append(orgs, org)
		first := mustAppend(t, l, org, draft("t", "a", `"a"`))
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i+1)*time.Millisecond/2)
		_, _ = l.Append(ctx, org, first.Head, ds)
		cancel()
	}
	ctx := ctxT(t)
	for _, org := range orgs {
		// An append whose acknowledgement came too late may still commit:
		// wait until the store settled.
		time.Sleep(20 * time.Millisecond)
		evs, err := l.Read(ctx, org, 1, 2*n)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(evs) - 1; got != 0 && got != n-1 {
			t.Fatalf("%s: %d of the %d new drafts stored (seqs %v)", org, got, n-1, seqsOf(evs))
		}
		if !slices.Equal(seqsOf(evs), seqRange(1, uint64(len(evs)))) {
			t.Fatalf("%s: seqs %v", org, seqsOf(evs))
		}
	}
}

// probeIDs tells duplicates (with their first seqs) from new IDs and stores
// nothing either way; the batch of new drafts is refused as a whole when an
// ID turned duplicate after the probe (another writer stored it), which
// appendSplit answers by probing again.
func TestJetStreamProbeID(t *testing.T) {
	for _, kind := range []string{"embedded", "external", "r3"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "r3" && testing.Short() {
				t.Skip("cluster formation takes seconds")
			}
			l := probeLog(t, kind)
			ctx := ctxT(t)
			mustAppend(t, l, "acme", draft("t", "", "0"))
			mustAppend(t, l, "acme", draft("t", "k", "1"))
			// A batch with the duplicate: the new drafts at consecutive seqs.
			b := mustAppend(t, l, "acme", draft("t", "", "2"), draft("t", "k", "x"), draft("t", "", "3"))
			if !slices.Equal(b.Seqs, []uint64{3, 2, 4}) || !slices.Equal(b.Duplicate, []bool{false, true, false}) {
				t.Fatalf("batch with a duplicate = %+v", b)
			}
			r := b
			seen := map[string]uint64{}
			err := l.probeIDs(ctx, "acme", []messages.Draft{draft("t", "new", "4"), draft("t", "", "4"), draft("t", "k", "4"), draft("t", "new", "4")}, seen)
			if err != nil || len(seen) != 1 || seen["k"] != 2 {
				t.Fatalf("probe of a stored and a new id: seen %v, %v; want only k at 2", seen, err)
			}
			if hd, err := l.Head(ctx, "acme"); err != nil || hd != r.Head {
				t.Fatalf("head after probes = %+v, %v; want %+v", hd, err, r.Head)
			}
			// The new id is still new: probing stored nothing.
			if got := mustAppend(t, l, "acme", draft("t", "new", "5")); got.Duplicate[0] || got.Seqs[0] != 5 {
				t.Fatalf("append of the probed id = %+v", got)
			}
			hd, _ := l.Head(ctx, "acme")
			ds := []messages.Draft{draft("t", "", "4"), draft("t", "new", "5")}
			_, err = l.appendFresh(ctx, "acme", hd, ds, []int{0, 1}, time.Now())
			if !errors.Is(err, errBatchDuplicate) {
				t.Fatalf("batch with an id stored meanwhile: err = %v, want errBatchDuplicate", err)
			}
			if now, err := l.Head(ctx, "acme"); err != nil || now != hd {
				t.Fatalf("head after the refused batch = %+v, %v; want %+v", now, err, hd)
			}
		})
	}
}

// probeLog opens a JetStream log on an embedded server, a separate one, or
// a cluster of three embedded servers (a replicated stream).
func probeLog(t *testing.T, kind string) *JetStreamLog {
	t.Helper()
	switch kind {
	case "embedded":
		return openJetStream(t, JetStreamConfig{Conn: connect(t, startEmbedded(t, t.TempDir()))})
	case "r3":
		return openJetStream(t, JetStreamConfig{Conn: connect(t, startCluster3(t)[0]), Replicas: 3})
	}
	nc, err := nats.Connect(startExternal(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return openJetStream(t, JetStreamConfig{Conn: nc})
}

// A duplicate answer is trusted only when the event it names carries the
// draft's id: one that names another event (of the org or not) is an
// unknown outcome, never that event's seq, which would acknowledge a draft
// that was not stored. An answer naming a message no longer retained keeps
// its documented seq 0.
func TestJetStreamDupSeqChecksTheID(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	a := mustAppend(t, l, "acme", draft("t", "a", `"a"`))
	b := mustAppend(t, l, "acme", draft("t", "b", `"b"`))
	x := mustAppend(t, l, samePartition(l, "acme", "other"), draft("t", "a", `"x"`))
	ctx := ctxT(t)
	tests := []struct {
		name    string
		rev     uint64
		id      string
		want    uint64
		unknown bool
	}{
		{"the event of the id", a.Head.Rev, "a", 1, false},
		{"the second event of the id", b.Head.Rev, "b", 2, false},
		{"another event of the org", a.Head.Rev, "b", 0, true},
		{"an event of another org with the same id", x.Head.Rev, "a", 0, true},
		{"no message there any more", x.Head.Rev + 1000, "a", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.dupSeq(ctx, "acme", tt.rev, tt.id)
			if tt.unknown {
				if !errors.Is(err, ErrOutcomeUnknown) {
					t.Fatalf("dupSeq(%d, %q) = %d, %v; want ErrOutcomeUnknown", tt.rev, tt.id, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("dupSeq(%d, %q) = %d, %v; want %d", tt.rev, tt.id, got, err, tt.want)
			}
		})
	}
}
