package persistence

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/messages"
)

// DESIGN.md invariant 3 across a restart: once every event of an org aged
// out, a restart of the server on the same data dir must keep the org's
// counter (nats-server 2.15 expires messages by MaxAge on recovery without
// honouring Nats-TTL "never", which wiped head markers kept in the events'
// stream).
func TestJetStreamAgedOutCounterSurvivesRestart(t *testing.T) {
	const retention = time.Second
	dir := t.TempDir()
	ctx := ctxT(t)

	e1 := startEmbedded(t, dir)
	nc1 := connect(t, e1)
	l1 := openJetStream(t, JetStreamConfig{Conn: nc1, Retention: retention})
	mustAppend(t, l1, "acme", drafts(3, "a")...)
	mustAppend(t, l1, "acme", drafts(1, "b")...)
	epoch := l1.Epoch()
	eventually(t, 5*time.Second, "age-out", func() bool { _, rev, _ := l1.lastEvent(ctx, "acme", false); return rev == 0 })
	if hd, err := l1.Head(ctx, "acme"); err != nil || hd != (Head{Seq: 4}) {
		t.Fatalf("Head after age-out = %+v, %v; want seq 4, nothing retained", hd, err)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	nc1.Close()
	e1.Shutdown()

	e2 := startEmbedded(t, dir)
	l2 := openJetStream(t, JetStreamConfig{Conn: connect(t, e2), Retention: retention})
	if l2.Epoch() != epoch {
		t.Fatalf("epoch after restart %q, want %q", l2.Epoch(), epoch)
	}
	hd, err := l2.Head(ctx, "acme")
	if err != nil || hd.Seq != 4 {
		t.Fatalf("Head after restart = %+v, %v; want seq 4", hd, err)
	}
	if first, head, err := l2.Bounds(ctx, "acme"); err != nil || first != 5 || head != 4 {
		t.Fatalf("Bounds after restart = %d, %d, %v; want 5, 4", first, head, err)
	}
	res, err := l2.Append(ctx, "acme", hd, drafts(2, "c"))
	if err != nil || !equalU(res.Seqs, []uint64{5, 6}) {
		t.Fatalf("Append after restart = %+v, %v; want seqs 5, 6", res.Seqs, err)
	}
	evs, err := l2.Read(ctx, "acme", 1, 10)
	if err != nil || !equalU(seqsOf(evs), []uint64{5, 6}) {
		t.Fatalf("Read after restart = %v, %v; want 5, 6", seqsOf(evs), err)
	}
}

// Close writes the markers still pending (the first write for an org waits
// for a read of its marker), so an Append right before a shutdown keeps its
// counter.
func TestJetStreamCloseDrainsMarkers(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	orgs := []string{"a", "b", "c", "d"}
	for _, org := range orgs {
		mustAppend(t, l, org, drafts(2, org)...)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	ctx := ctxT(t)
	for _, org := range orgs {
		if s, err := l2.markerSeq(ctx, org, true); err != nil || s != 2 {
			t.Fatalf("%s: marker %d, %v after Close; want 2", org, s, err)
		}
	}
}

// A store made before the heads stream existed (markers in ORGSTREAM, with
// Nats-TTL and rollup) opens: the events' stream gives up the marker
// subjects, the heads stream is created, its events stay, and the epoch
// changes since the old markers are not carried over.
func TestJetStreamOpensOldLayout(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	ctx := ctxT(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := JetStreamConfig{Conn: nc}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	old := cfg.legacyStreamConfig()
	old.Subjects = append(old.Subjects, HeadsPrefix+"*")
	old.AllowRollup = true
	s, err := js.CreateStream(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	oldEpoch := epochOf(s.CachedInfo().Created, time.Time{})
	ev := messages.Event{Seq: 1, Topic: "t", Time: time.Now().UTC(), Data: []byte(`1`)}
	if _, err := js.PublishMsg(ctx, eventMsg(EventsPrefix+"acme", "acme", &ev)); err != nil {
		t.Fatal(err)
	}

	l := openJetStream(t, JetStreamConfig{Conn: nc})
	if l.Epoch() == oldEpoch {
		t.Fatalf("epoch %q unchanged by the new heads stream", l.Epoch())
	}
	if hd, err := l.Head(ctx, "acme"); err != nil || hd.Seq != 1 {
		t.Fatalf("Head = %+v, %v; want seq 1", hd, err)
	}
	res := mustAppend(t, l, "acme", drafts(1, "x")...)
	if res.Seqs[0] != 2 {
		t.Fatalf("Append seq %d, want 2", res.Seqs[0])
	}
	eventually(t, 5*time.Second, "marker 2", func() bool { s, _ := l.markerSeq(ctx, "acme", true); return s == 2 })
}
