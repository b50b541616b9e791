package persistence

import (
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// markerWrites is how many marker writes the heads stream ever stored (its
// last stream sequence: one message per write).
func markerWrites(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctxT(t), HeadsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// Many appends to one org make one marker write per markerEvery at most,
// not one per append, and the marker still ends at the head.
func TestJetStreamMarkersAreLazy(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	ctx := ctxT(t)
	const n = 200
	h, err := l.Head(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	base := markerWrites(t, nc) // the open lock's messages (log_jetstream_lock.go)
	start := time.Now()
	for range n {
		res, err := l.Append(ctx, "acme", h, drafts(1, "a"))
		if err != nil {
			t.Fatal(err)
		}
		h = res.Head
	}
	elapsed := time.Since(start)
	eventually(t, 5*time.Second, "marker at the head", func() bool { s, _ := l.markerSeq(ctx, "acme", true); return s == n })
	// One write per tick while appending, one after the last append.
	if writes, most := markerWrites(t, nc)-base, uint64(elapsed/l.markers.every)+2; writes > most {
		t.Fatalf("%d appends in %v made %d marker writes, want at most %d (one per %v)", n, elapsed, writes, most, l.markers.every)
	}
}

// kill -9 between events and their markers: the next log to open sweeps,
// raises the markers, and once every event aged out the org continues at
// head+1 under the same epoch.
func TestJetStreamSweepRaisesMarkersAfterCrash(t *testing.T) {
	const retention = 2 * time.Second
	e := startEmbedded(t, t.TempDir())
	ctx := ctxT(t)
	nc1 := connect(t, e)
	l1 := openJetStream(t, JetStreamConfig{Conn: nc1, Retention: retention})
	dropMarkers(l1)
	mustAppend(t, l1, "acme", drafts(3, "a")...)
	mustAppend(t, l1, "acme", drafts(1, "b")...)
	mustAppend(t, l1, "beta", drafts(1, "c")...)
	nc1.Close() // the process dies: nothing more reaches the server
	_ = l1.Close()

	l2 := openJetStream(t, JetStreamConfig{Conn: connect(t, e), Retention: retention})
	if l2.Epoch() != l1.Epoch() {
		t.Fatalf("epoch %q after the crash, want %q", l2.Epoch(), l1.Epoch())
	}
	for org, want := range map[string]uint64{"acme": 4, "beta": 1} {
		eventually(t, 5*time.Second, org+"'s marker raised by the sweep", func() bool {
			s, _ := l2.markerSeq(ctx, org, true)
			return s == want
		})
	}
	eventually(t, 10*time.Second, "age-out", func() bool { _, rev, _ := l2.lastEvent(ctx, "acme", true); return rev == 0 })
	hd, err := l2.Head(ctx, "acme")
	if err != nil || hd != (Head{Seq: 4}) {
		t.Fatalf("Head after age-out = %+v, %v; want seq 4, nothing retained", hd, err)
	}
	res, err := l2.Append(ctx, "acme", hd, drafts(1, "d"))
	if err != nil || !equalU(res.Seqs, []uint64{5}) {
		t.Fatalf("Append after age-out = %+v, %v; want seq 5", res.Seqs, err)
	}
}

// A sweep reads in chunks and counts only the orgs whose marker lags.
func TestJetStreamSweepChunks(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	ctx := ctxT(t)
	mustAppend(t, l, "fine", drafts(2, "f")...)
	eventually(t, 5*time.Second, "fine's marker", func() bool { s, _ := l.markerSeq(ctx, "fine", true); return s == 2 })
	dropMarkers(l)
	for _, org := range []string{"a", "b", "c"} {
		mustAppend(t, l, org, drafts(1, org)...)
	}
	for _, chunk := range []int{1, 2, sweepChunk} {
		n, err := l.sweepOnce(ctx, chunk)
		if err != nil || n != 3 {
			t.Fatalf("chunk %d: sweep found %d lagging markers, %v; want 3", chunk, n, err)
		}
	}
	nc.Close() // a crash: Close must not wait for the dropped writes
}

// The newest event deleted before its lazy marker was written: the node that
// appended it still answers its seq as the head and continues after it.
func TestJetStreamHeadCountsPendingMarker(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	ctx := ctxT(t)
	dropMarkers(l) // the marker never comes
	revs := appendInterleaved(t, l, "acme", 3)
	deleteSeqs(t, nc, l, "acme", revs, 3)
	if hd, err := l.Head(ctx, "acme"); err != nil || hd.Seq != 3 {
		t.Fatalf("Head = %+v, %v; want seq 3", hd, err)
	}
	if _, head, err := l.Bounds(ctx, "acme"); err != nil || head != 3 {
		t.Fatalf("Bounds' head = %d, %v; want 3", head, err)
	}
	if res := mustAppend(t, l, "acme", drafts(1, "x")...); res.Seqs[0] != 4 {
		t.Fatalf("Append seq %d, want 4", res.Seqs[0])
	}
	nc.Close() // a crash: Close must not wait for the dropped writes
}

// A bulk read cut short by the batch's max bytes asks again for the orgs
// it did not answer: every org's last event arrives, once.
func TestJetStreamMultiLastMaxBytes(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	// One partition: the four orgs' events in one stream.
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e), Partitions: 1})
	ctx := ctxT(t)
	orgs := []string{"a", "b", "c", "d"}
	for i, org := range orgs {
		mustAppend(t, l, org, drafts(i+1, org)...)
	}
	asked := append([]string{"none"}, orgs...)
	got := map[string]uint64{}
	if err := l.multiLast(ctx, l.parts[0].gets.direct, l.parts[0].events, asked, 1, func(org string, m *nats.Msg) error {
		ev, _, err := eventOf(m)
		if _, dup := got[org]; dup {
			t.Errorf("%s answered twice", org)
		}
		got[org] = ev.Seq
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"a": 1, "b": 2, "c": 3, "d": 4}; !maps.Equal(got, want) {
		t.Fatalf("last events %v, want %v", got, want)
	}
	if asked[0] != "none" || asked[1] != "a" || len(asked) != 5 {
		t.Fatalf("the caller's orgs changed: %v", asked)
	}
}
