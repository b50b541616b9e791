package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/messages"
)

// JetStream-only behaviour: restarts, epochs, stream updates, head markers,
// the live feed's repair, errors.

func TestJetStreamRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)

	e1 := startEmbedded(t, dir)
	nc1 := connect(t, e1)
	l1 := openJetStream(t, JetStreamConfig{Conn: nc1})
	mustAppend(t, l1, "acme", draft("t", "k", `{"a":1}`))
	want := mustAppend(t, l1, "acme", drafts(2, "b")...)
	epoch := l1.Epoch()
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	nc1.Close()
	e1.Shutdown()

	e2 := startEmbedded(t, dir)
	l2 := openJetStream(t, JetStreamConfig{Conn: connect(t, e2), Retention: time.Hour})
	if l2.Epoch() != epoch {
		t.Fatalf("epoch after restart %q, want %q", l2.Epoch(), epoch)
	}
	evs, err := l2.Read(ctx, "acme", 1, 10)
	if err != nil || !slices.Equal(seqsOf(evs), []uint64{1, 2, 3}) || string(evs[0].Data) != `{"a":1}` ||
		!evs[2].Time.Equal(want.Events[1].Time) {
		t.Fatalf("after restart Read = %+v, %v", evs, err)
	}
	if hd, err := l2.Head(ctx, "acme"); err != nil || hd != want.Head {
		t.Fatalf("after restart Head = %+v, %v; want %+v", hd, err, want.Head)
	}
	// Dedup state survives too (the window is 2m).
	if dup := mustAppend(t, l2, "acme", draft("t", "k", `{}`)); !dup.Duplicate[0] || dup.Seqs[0] != 1 {
		t.Fatalf("after restart duplicate = %+v", dup)
	}
	// The changed retention was applied to the stream.
	js, _ := jetstream.New(connect(t, e2))
	s, err := js.Stream(ctx, l2.part("acme").stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != time.Hour {
		t.Fatalf("MaxAge after reopen = %v, want 1h", got)
	}

	e3 := startEmbedded(t, t.TempDir())
	if l3 := openJetStream(t, JetStreamConfig{Conn: connect(t, e3)}); l3.Epoch() == epoch {
		t.Fatalf("a fresh store has the old epoch %q", epoch)
	}
}

// publishRaw stores an event the way Append does but writes no head marker:
// an appender that crashed right after its PubAck.
func publishRaw(t *testing.T, nc *nats.Conn, org string, after Head) Head {
	t.Helper()
	ev := messages.Event{Seq: after.Seq + 1, Topic: "t", Time: time.Now().UTC(), Data: []byte(`"raw"`)}
	m := eventMsg(PartitionSubjectPrefix(PartitionOf(org, DefaultPartitions))+org, org, &ev)
	m.Header.Set(hdrExpectSubjSeq, strconv.FormatUint(after.Rev, 10))
	resp, err := nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil || ack.Error != nil {
		t.Fatalf("raw publish: %s, %v", resp.Data, err)
	}
	return Head{Seq: ev.Seq, Rev: ack.Seq}
}

func TestJetStreamHeadRepairsMarker(t *testing.T) {
	const retention = time.Second
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc, Retention: retention})
	ctx := ctxT(t)
	h := mustAppend(t, l, "acme", drafts(2, "a")...).Head
	eventually(t, 5*time.Second, "marker 2", func() bool { s, _ := l.markerSeq(ctx, "acme", false); return s == 2 })

	crashed := publishRaw(t, nc, "acme", h) // seq 3 without its marker
	if s, _ := l.markerSeq(ctx, "acme", false); s != 2 {
		t.Fatalf("marker = %d before repair", s)
	}
	if hd, err := l.Head(ctx, "acme"); err != nil || hd != crashed {
		t.Fatalf("Head = %+v, %v; want %+v", hd, err, crashed)
	}
	eventually(t, 5*time.Second, "the repaired marker", func() bool { s, _ := l.markerSeq(ctx, "acme", false); return s == 3 })

	eventually(t, 5*time.Second, "age-out", func() bool { _, rev, _ := l.lastEvent(ctx, "acme", false); return rev == 0 })
	res := mustAppend(t, l, "acme", drafts(1, "b")...)
	if res.Seqs[0] != 4 {
		t.Fatalf("after age-out seq %d, want 4", res.Seqs[0])
	}
}

// markerIdle reports whether l's marker writer has nothing left to do for
// org and knows a stored marker >= seq.
func markerIdle(l *JetStreamLog, org string, seq uint64) bool {
	l.markers.mu.Lock()
	defer l.markers.mu.Unlock()
	st := l.markers.states[org]
	return st != nil && st.idle() && st.stored >= seq
}

// Markers only go up, even when two nodes' writes cross: a lower write is
// skipped, a write on a stale view of the marker loses its compare-and-set,
// re-reads the marker from the leader and lands only if still higher.
func TestJetStreamMarkerMonotonic(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	// A short retention makes the lazy marker writes come every 100ms
	// rather than every second (the test has no events to age out).
	const retention = 400 * time.Millisecond
	a := openJetStream(t, JetStreamConfig{Conn: connect(t, e), Retention: retention})
	b := openJetStream(t, JetStreamConfig{Conn: connect(t, e), Retention: retention})
	ctx := ctxT(t)
	marker := func() uint64 {
		t.Helper()
		s, err := a.markerSeq(ctx, "acme", true)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		l          *JetStreamLog
		write      uint64
		wantMarker uint64
	}{
		{a, 5, 5},
		{b, 3, 5}, // b reads 5 first: nothing to write
		{b, 7, 7}, // b knows 5 now
		{a, 6, 7}, // a's view (5) is stale: its write is refused, it re-reads 7
		{a, 9, 9},
		{a, 2, 9},
	}
	for i, st := range steps {
		st.l.markers.write("acme", st.write)
		eventually(t, 5*time.Second, fmt.Sprintf("step %d: writer idle", i), func() bool {
			return markerIdle(st.l, "acme", st.wantMarker)
		})
		if got := marker(); got != st.wantMarker {
			t.Fatalf("step %d: marker %d after writing %d, want %d", i, got, st.write, st.wantMarker)
		}
	}

	// Both nodes raise the marker concurrently while a reader checks that it
	// never goes down.
	const top = 300
	var wg sync.WaitGroup
	for _, l := range []*JetStreamLog{a, b} {
		wg.Go(func() {
			for s := uint64(10); s <= top; s++ {
				l.markers.write("acme", s)
				if s%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	stop := make(chan struct{})
	bad := make(chan string, 1)
	wg.Go(func() {
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, err := a.markerSeq(ctx, "acme", false)
			if err == nil && s < last {
				bad <- fmt.Sprintf("marker went down from %d to %d", last, s)
				return
			}
			last = max(last, s)
		}
	})
	eventually(t, 10*time.Second, "marker at the top", func() bool {
		return markerIdle(a, "acme", top) && markerIdle(b, "acme", top) && marker() == top
	})
	close(stop)
	wg.Wait()
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
}

// The live feed drops messages: fn blocks the dispatcher while the log's
// live channel holds 2 messages, so NATS drops the rest on the org's
// subscription; the follower reads the holes back from the log, delivering
// each event once, in order.
func TestJetStreamFollowRepairsDrops(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e), liveBuffer: 2})
	c, fl, open := followBlocked(t, l, "acme", 2)
	defer fl.Stop()
	defer open() // before Stop, should the test fail while fn blocks
	f := fl.(*jsFollower)
	// Seq 1 is checked against the log by a worker; once the worker is
	// done, seq 2 passes the header check and fn runs on the dispatcher.
	mustAppend(t, l, "acme", drafts(1, "a")...)
	eventually(t, 5*time.Second, "event 1, and the worker done", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(c.seqs()) == 1 && !f.busy
	})
	mustAppend(t, l, "acme", drafts(1, "a")...)
	eventually(t, 5*time.Second, "event 2", func() bool { return len(c.seqs()) == 2 })
	for range 40 {
		mustAppend(t, l, "acme", drafts(1, "b")...)
	}
	open()
	// The tail may have been dropped too: the idle check catches up.
	eventually(t, 5*time.Second, "42 events", func() bool { return len(c.seqs()) >= 42 })
	if got := c.seqs(); !slices.Equal(got, seqRange(1, 42)) {
		t.Fatalf("followed %v", got)
	}
	if n, _ := f.sub.Dropped(); n == 0 {
		t.Fatal("no live message was dropped; the hole path was not exercised")
	}
}

func TestJetStreamUnavailable(t *testing.T) {
	t.Run("stream deleted", func(t *testing.T) {
		e := startEmbedded(t, t.TempDir())
		nc := connect(t, e)
		l := openJetStream(t, JetStreamConfig{Conn: nc})
		ctx := ctxT(t)
		js, _ := jetstream.New(nc)
		if err := js.DeleteStream(ctx, l.part("acme").stream); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Head(ctx, "acme"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Head err = %v", err)
		}
		if _, err := l.Read(ctx, "acme", 1, 10); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Read err = %v", err)
		}
		if _, err := l.appendOne(ctx, "acme", Head{}, draft("t", "", "1"), time.Now()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("append err = %v", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		e := startEmbedded(t, t.TempDir())
		l := openJetStream(t, JetStreamConfig{Conn: connect(t, e), RequestTimeout: 200 * time.Millisecond})
		h := mustAppend(t, l, "acme", drafts(1, "a")...).Head
		e.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := l.Append(ctx, "acme", h, drafts(1, "b")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append err = %v", err)
		}
		if _, err := l.Head(context.Background(), "acme"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Head err = %v", err)
		}
	})
}

// Read locates `from` among many orgs' interleaved messages.
func TestJetStreamReadInterleaved(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	ctx := ctxT(t)
	orgs := []string{"a", "b", "c"}
	for i := range 60 {
		org := orgs[i%len(orgs)]
		if i%7 == 0 {
			org = "a"
		}
		mustAppend(t, l, org, drafts(1+i%3, org)...)
	}
	for _, org := range orgs {
		all, err := l.Read(ctx, org, 1, 10000)
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(len(all))
		if !slices.Equal(seqsOf(all), seqRange(1, n)) {
			t.Fatalf("%s: %v", org, seqsOf(all))
		}
		for from := uint64(1); from <= n+1; from++ {
			for _, max := range []int{1, 1000} {
				evs, err := l.Read(ctx, org, from, max)
				if err != nil {
					t.Fatal(err)
				}
				want := seqRange(from, min(n, from+uint64(max)-1))
				if !slices.Equal(seqsOf(evs), want) {
					t.Fatalf("%s Read(%d, %d) = %v, want %v", org, from, max, seqsOf(evs), want)
				}
			}
		}
	}
}

// Reads larger than one Direct Get batch continue where it stopped.
func TestJetStreamReadManyBatches(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	ctx := ctxT(t)
	for range 3 {
		mustAppend(t, l, "acme", drafts(MaxBatch, "x")...)
	}
	evs, err := l.Read(ctx, "acme", 2, 2500)
	if err != nil || !slices.Equal(seqsOf(evs), seqRange(2, 2501)) {
		t.Fatalf("Read = %d events (%v)", len(evs), err)
	}
}

func TestJetStreamPayloadLimits(t *testing.T) {
	big := `"` + strings.Repeat("x", 1<<20-2) + `"` // 1 MiB of JSON
	t.Run("embedded takes a 1 MiB event", func(t *testing.T) {
		e := startEmbedded(t, t.TempDir())
		l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
		res := mustAppend(t, l, "acme", draft("t", strings.Repeat("i", messages.MaxIDLen), big))
		evs, err := l.Read(ctxT(t), "acme", res.Seqs[0], 1)
		if err != nil || len(evs) != 1 || string(evs[0].Data) != big {
			t.Fatalf("Read = %d events, %v", len(evs), err)
		}
	})
	t.Run("over the server's max payload", func(t *testing.T) {
		nc, err := nats.Connect(startExternal(t)) // default max payload: 1 MB
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		l := openJetStream(t, JetStreamConfig{Conn: nc})
		ctx := ctxT(t)
		ds := append(drafts(2, "a"), draft("t", "", big))
		_, err = l.Append(ctx, "acme", Head{}, ds)
		if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrTooLarge (permanent)", err)
		}
		if _, head, err := l.Bounds(ctx, "acme"); err != nil || head != 0 {
			t.Fatalf("head = %d, %v; want nothing stored", head, err)
		}
	})
}

// Two nodes write one org while a follower on one of them reads: every event
// arrives once, in order, whichever node stored it.
func TestJetStreamFollowTwoWriters(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	a := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	b := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	mustAppend(t, a, "acme", drafts(5, "pre")...)
	var c collector
	f, err := a.Follow("acme", 2, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	ctx := ctxT(t)
	done := make(chan error, 2)
	for i, l := range []*JetStreamLog{a, b} {
		go func() {
			for k := range 30 {
				if _, err := appendRetrying(ctx, l, "acme", drafts(1+(i+k)%3, "w")); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	_, head, err := a.Bounds(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "every event", func() bool { return uint64(len(c.seqs())) >= head-2 })
	if got := c.seqs(); !slices.Equal(got, seqRange(3, head)) {
		t.Fatalf("followed %v, want 3..%d", got, head)
	}
}

// The dedup window is 2 minutes, or the retention when that is shorter
// (JetStream requires Duplicates ≤ MaxAge), as PROTOCOL.md states; a store
// reopened with another retention gets the window of the new one.
func TestJetStreamDedupWindow(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		retention, dedup, want time.Duration
	}{
		{retention: 0, want: 2 * time.Minute}, // the node's defaults: 5m retention
		{retention: 5 * time.Minute, want: 2 * time.Minute},
		{retention: 30 * time.Second, want: 30 * time.Second},
		{retention: 2 * time.Minute, want: 2 * time.Minute},
		{retention: time.Hour, want: 2 * time.Minute},
		{retention: 200 * time.Millisecond, want: 200 * time.Millisecond},
		{retention: 90 * time.Second, dedup: 10 * time.Second, want: 10 * time.Second},
	} {
		l := openJetStream(t, JetStreamConfig{Conn: nc, Retention: tc.retention, DedupWindow: tc.dedup})
		s, err := js.Stream(ctxT(t), l.parts[0].stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Duplicates != tc.want {
			t.Errorf("retention %v, DedupWindow %v: the stream's Duplicates is %v, want %v",
				tc.retention, tc.dedup, info.Config.Duplicates, tc.want)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
