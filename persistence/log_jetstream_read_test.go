package persistence

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The leader's Message Get returns what a Direct Get returns: the same
// message with its stream sequence, nothing when the subject has none, and
// ErrUnavailable when the stream is gone.
func TestJetStreamLeaderLast(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	ctx := ctxT(t)
	res := mustAppend(t, l, "acme", draft("t.x", "id-1", `{"a":1}`))
	eventually(t, 5*time.Second, "marker 1", func() bool { s, _ := l.markerSeq(ctx, "acme", false); return s == 1 })
	pt := l.part("acme")
	for _, tc := range []struct {
		name string
		g    streamGets
		subj string
		ok   bool
	}{
		{"event", pt.gets, pt.events + "acme", true},
		{"marker", headsStream, HeadsPrefix + "acme", true},
		{"no event", pt.gets, pt.events + "other", false},
		{"no marker", headsStream, HeadsPrefix + "other", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, dok, err := l.lastMsg(ctx, tc.g, tc.subj, false)
			if err != nil || dok != tc.ok {
				t.Fatalf("direct: ok %v, %v; want ok %v", dok, err, tc.ok)
			}
			m, ok, err := l.lastMsg(ctx, tc.g, tc.subj, true)
			if err != nil || ok != tc.ok {
				t.Fatalf("leader: ok %v, %v; want ok %v", ok, err, tc.ok)
			}
			if !ok {
				return
			}
			for _, h := range []string{HeaderSeq, HeaderTopic, HeaderID, HeaderTime, hdrSequence} {
				if m.Header.Get(h) != d.Header.Get(h) {
					t.Errorf("header %s: leader %q, direct %q", h, m.Header.Get(h), d.Header.Get(h))
				}
			}
			if string(m.Data) != string(d.Data) {
				t.Errorf("data: leader %q, direct %q", m.Data, d.Data)
			}
		})
	}
	if seq, rev, err := l.lastEvent(ctx, "acme", true); err != nil || seq != 1 || rev != res.Head.Rev {
		t.Fatalf("lastEvent from the leader = %d, %d, %v; want 1, %d", seq, rev, err, res.Head.Rev)
	}

	// By stream sequence, as orgSeqAt asks when a replica has not the
	// first message of a duplicate yet.
	m, ok, err := l.leaderGet(ctx, pt.gets.leader, fmt.Appendf(nil, `{"seq":%d}`, res.Head.Rev))
	if err != nil || !ok || m.Header.Get(hdrSubject) != pt.events+"acme" || m.Header.Get(HeaderSeq) != "1" {
		t.Fatalf("leader get by seq = %v, %v, %v", m, ok, err)
	}
	if _, ok, err := l.leaderGet(ctx, pt.gets.leader, fmt.Appendf(nil, `{"seq":%d}`, res.Head.Rev+100)); ok || err != nil {
		t.Fatalf("leader get of a missing seq: ok %v, %v; want not found", ok, err)
	}

	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(ctx, pt.stream); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.lastMsg(ctx, pt.gets, pt.events+"acme", true); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("leader read of a deleted stream: %v, want ErrUnavailable", err)
	}
}

// An Append that loses to another writer makes the org's next Head read
// from the leaders, once.
func TestJetStreamHeadAfterConflict(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	ctx := ctxT(t)
	stale := mustAppend(t, l, "acme", drafts(1, "a")...).Head
	fresh := mustAppend(t, l, "acme", drafts(1, "b")...).Head
	for _, after := range []Head{stale, {Seq: 7}} { // the second fails the marker check
		if _, err := l.Append(ctx, "acme", after, drafts(1, "c")); !errors.Is(err, ErrConflict) {
			t.Fatalf("Append after %+v: %v, want ErrConflict", after, err)
		}
		if _, ok := l.conflicted.Load("acme"); !ok {
			t.Fatal("conflict not noted")
		}
		if hd, err := l.Head(ctx, "acme"); err != nil || hd != fresh {
			t.Fatalf("Head after the conflict = %+v, %v; want %+v", hd, err, fresh)
		}
		if _, ok := l.conflicted.Load("acme"); ok {
			t.Fatal("conflict still noted after Head")
		}
	}
}
