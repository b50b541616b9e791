package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/messages"
)

// fnv1a is the 32-bit FNV-1a hash, written out from its definition (offset
// basis 2166136261, prime 16777619), independently of hash/fnv.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// PartitionOf is stable forever: these values must never change (a store
// would lose track of its orgs), and it is FNV-1a mod p.
func TestPartitionOf(t *testing.T) {
	for _, tc := range []struct {
		org  string
		p    int
		want int
	}{
		// Golden values, computed once (fnv1a: acme 0x45fd71af, globex
		// 0xa09748e, initech 0x78c1e661, hooli 0x89b14e46).
		{"acme", 12, 7},
		{"acme", 4, 3},
		{"globex", 12, 10},
		{"initech", 4, 1},
		{"hooli", 64, 6},
		{"acme", 1, 0},
		{"acme", 0, 0},
		{"acme", -3, 0},
	} {
		if got := PartitionOf(tc.org, tc.p); got != tc.want {
			t.Errorf("PartitionOf(%q, %d) = %d, want %d", tc.org, tc.p, got, tc.want)
		}
	}
	for _, org := range []string{"acme", "globex", "initech", "hooli"} {
		if got := fnv1a(org); got != map[string]uint32{"acme": 0x45fd71af, "globex": 0xa09748e, "initech": 0x78c1e661, "hooli": 0x89b14e46}[org] {
			t.Errorf("fnv1a(%q) = %#x: the golden values above are wrong", org, got)
		}
	}
	// Every org and count: in range, and FNV-1a mod p.
	seen := make([]int, DefaultPartitions)
	for i := range 10000 {
		org := "org-" + strconv.Itoa(i)
		for p := 1; p <= MaxPartitions; p++ {
			got := PartitionOf(org, p)
			if got < 0 || got >= p || got != int(fnv1a(org)%uint32(p)) {
				t.Fatalf("PartitionOf(%q, %d) = %d", org, p, got)
			}
		}
		seen[PartitionOf(org, DefaultPartitions)]++
	}
	// And it spreads: no partition of 12 gets under half its share.
	for i, n := range seen {
		if n < 10000/DefaultPartitions/2 {
			t.Errorf("partition %d got %d of 10000 orgs: %v", i, n, seen)
		}
	}
	if PartitionStream(0) != "ORGSTREAM_P0" || PartitionStream(11) != "ORGSTREAM_P11" ||
		PartitionSubjectPrefix(11) != "orgstream.events.p11." {
		t.Errorf("names: %s %s %s", PartitionStream(0), PartitionStream(11), PartitionSubjectPrefix(11))
	}
}

func TestJetStreamPartitionsConfig(t *testing.T) {
	for _, tc := range []struct {
		p    int
		want int
		ok   bool
	}{{0, DefaultPartitions, true}, {1, 1, true}, {64, 64, true}, {65, 0, false}, {-1, 0, false}} {
		cfg := JetStreamConfig{Conn: &nats.Conn{}, Partitions: tc.p}
		err := cfg.validate()
		if (err == nil) != tc.ok || tc.ok && cfg.Partitions != tc.want {
			t.Errorf("Partitions %d: %v, %d; want ok %v, %d", tc.p, err, cfg.Partitions, tc.ok, tc.want)
		}
	}
}

// Each org's events are in its partition's stream on its partition's
// subject, republished to orgstream.live.<org> by that stream; the heads
// stream records the epoch and the partition count.
func TestJetStreamPartitionLayout(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc, Partitions: 3})
	ctx := ctxT(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	live, err := nc.SubscribeSync(LivePrefix + "*")
	if err != nil {
		t.Fatal(err)
	}
	orgs := []string{"acme", "globex", "initech", "hooli", "umbrella", "wayne"}
	used := map[int]bool{}
	for _, org := range orgs {
		res := mustAppend(t, l, org, draft("t", "", `"`+org+`"`))
		p := PartitionOf(org, 3)
		used[p] = true
		s, err := js.Stream(ctx, PartitionStream(p))
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.GetMsg(ctx, res.Head.Rev)
		if err != nil || m.Subject != PartitionSubjectPrefix(p)+org || string(m.Data) != `"`+org+`"` {
			t.Fatalf("%s's event in %s at %d: %+v, %v", org, PartitionStream(p), res.Head.Rev, m, err)
		}
		lm, err := live.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if lm.Subject != LivePrefix+org || lm.Header.Get(hdrStream) != PartitionStream(p) ||
			lm.Header.Get(hdrSubject) != PartitionSubjectPrefix(p)+org {
			t.Fatalf("live message of %s: %s %v", org, lm.Subject, lm.Header)
		}
	}
	if len(used) != 3 {
		t.Fatalf("the orgs used partitions %v; pick orgs that use all 3", used)
	}
	names := js.StreamNames(ctx)
	var got []string
	for n := range names.Name() {
		got = append(got, n)
	}
	slices.Sort(got)
	if want := []string{HeadsStreamName, "ORGSTREAM_P0", "ORGSTREAM_P1", "ORGSTREAM_P2"}; !slices.Equal(got, want) {
		t.Fatalf("streams %v, want %v", got, want)
	}
	s, err := js.Stream(ctx, HeadsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	md := s.CachedInfo().Config.Metadata
	if md[metaEpoch] != l.Epoch() || md[metaPartitions] != "3" {
		t.Fatalf("heads stream metadata %v, want epoch %s and 3 partitions", md, l.Epoch())
	}
}

// The partition count is fixed at the store's first open: another one is
// ErrPartitionsChanged and changes nothing; the same one opens with the same
// epoch, also after an event stream was deleted.
func TestJetStreamPartitionsChanged(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc, Partitions: 3})
	mustAppend(t, l, "acme", draft("t", "", "1"))
	epoch := l.Epoch()
	_ = l.Close()
	for _, p := range []int{0, 2, 4} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := OpenJetStream(ctx, JetStreamConfig{Conn: nc, Partitions: p})
		cancel()
		if !errors.Is(err, ErrPartitionsChanged) {
			t.Fatalf("open with %d partitions a store of 3: %v, want ErrPartitionsChanged", p, err)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctxT(t), PartitionStream(PartitionOf("other", 3))); err != nil {
		t.Fatal(err)
	}
	l2 := openJetStream(t, JetStreamConfig{Conn: nc, Partitions: 3})
	if l2.Epoch() != epoch {
		t.Fatalf("epoch %q after reopening, want %q", l2.Epoch(), epoch)
	}
	if hd, err := l2.Head(ctxT(t), "acme"); err != nil || hd.Seq != 1 {
		t.Fatalf("acme's head %+v, %v; want 1", hd, err)
	}
}

// legacyStore makes what the previous version left: the one events stream
// ORGSTREAM and the heads stream, with events of several orgs (ids, a
// batch, To) and their head markers. It returns the events per org.
func legacyStore(t *testing.T, nc *nats.Conn, cfg JetStreamConfig) map[string][]messages.Event {
	t.Helper()
	ctx := ctxT(t)
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, cfg.legacyStreamConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, cfg.headsStreamConfig(nil)); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	want := map[string][]messages.Event{}
	for i, org := range []string{"acme", "globex", "initech", "hooli", "umbrella"} {
		for s := range uint64(3 + i*7) {
			ev := messages.Event{Seq: s + 1, Topic: "t." + org, Time: at.Add(time.Duration(s) * time.Second),
				Data: []byte(fmt.Sprintf(`{"n":%d}`, s+1))}
			if s%3 == 0 {
				ev.ID = fmt.Sprintf("%s-id-%d", org, s+1)
			}
			if s%4 == 1 {
				ev.To = []string{"alice", "bob"}
			}
			if _, err := js.PublishMsg(ctx, eventMsg(EventsPrefix+org, org, &ev)); err != nil {
				t.Fatal(err)
			}
			want[org] = append(want[org], ev)
		}
		h := nats.Header{HeaderSeq: {strconv.Itoa(len(want[org]))}}
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: HeadsPrefix + org, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// A store written before partitions: its events move into the partitions,
// in order with every header, the epoch stays today's formula's, the legacy
// stream goes, ids still deduplicate, and appends continue at head+1. Two
// nodes upgrade at once after a crash mid-way (half an org copied, its
// legacy subject not purged, the lock left expired): nothing is duplicated
// or reordered.
func TestJetStreamUpgrade(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	ctx := ctxT(t)
	want := legacyStore(t, nc, JetStreamConfig{Conn: nc})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	heads, err := js.Stream(ctx, HeadsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	wantEpoch := epochOf(legacy.CachedInfo().Created, heads.CachedInfo().Created)

	// The crash mid-way: globex's first 5 events copied, an expired lock.
	const p = 4
	cfg := JetStreamConfig{Conn: nc, Partitions: p}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	gp := PartitionOf("globex", p)
	if _, err := js.CreateStream(ctx, cfg.partitionConfig(gp)); err != nil {
		t.Fatal(err)
	}
	var rev uint64
	for i := range 5 {
		m := eventMsg(PartitionSubjectPrefix(gp)+"globex", "globex", &want["globex"][i])
		m.Header.Set(hdrExpectSubjSeq, strconv.FormatUint(rev, 10))
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		rev = ack.Sequence
	}
	stale := &nats.Msg{Subject: openLockSubject, Header: nats.Header{hdrLockUntil: {time.Now().Add(-time.Second).Format(time.RFC3339Nano)}}}
	if _, err := js.PublishMsg(ctx, stale); err != nil {
		t.Fatal(err)
	}

	logs := make([]*JetStreamLog, 2)
	var wg sync.WaitGroup
	for i := range logs {
		c := connect(t, e)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l, err := OpenJetStream(ctx, JetStreamConfig{Conn: c, Partitions: p})
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { _ = l.Close() })
			logs[i] = l
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	l := logs[0]
	for _, o := range logs {
		if o.Epoch() != wantEpoch {
			t.Fatalf("epoch %q after the upgrade, want %q (the old store's)", o.Epoch(), wantEpoch)
		}
	}
	if _, err := js.Stream(ctx, StreamName); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the legacy stream after the upgrade: %v, want it deleted", err)
	}
	for org, evs := range want {
		got, err := l.Read(ctx, org, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(evs) {
			t.Fatalf("%s: read %v after the upgrade, want seqs 1..%d", org, seqsOf(got), len(evs))
		}
		for i := range evs {
			g, w := got[i], evs[i]
			if g.Seq != w.Seq || g.Topic != w.Topic || g.ID != w.ID || !g.Time.Equal(w.Time) ||
				string(g.Data) != string(w.Data) || !slices.Equal(g.To, w.To) {
				t.Fatalf("%s event %d after the upgrade: %+v, want %+v", org, i+1, g, w)
			}
		}
		s, err := js.Stream(ctx, PartitionStream(PartitionOf(org, p)))
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(PartitionSubjectPrefix(PartitionOf(org, p))+org))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[PartitionSubjectPrefix(PartitionOf(org, p))+org]; n != uint64(len(evs)) {
			t.Fatalf("%s has %d messages in its partition, want %d (no copy twice)", org, n, len(evs))
		}
		// An id of the old store still deduplicates.
		first := evs[0]
		dup := mustAppend(t, l, org, draft("t", first.ID, `"again"`))
		if !dup.Duplicate[0] || dup.Seqs[0] != first.Seq {
			t.Fatalf("%s: re-append of id %q after the upgrade: %+v, want duplicate of seq %d", org, first.ID, dup, first.Seq)
		}
		if res := mustAppend(t, logs[1], org, draft("t", "", `"new"`)); res.Seqs[0] != uint64(len(evs))+1 {
			t.Fatalf("%s: append after the upgrade got seq %d, want %d", org, res.Seqs[0], len(evs)+1)
		}
	}
}

// Followers catch up after a leader election of any partition's stream
// (only the leader republishes): the log counts those, not the heads
// stream's or another stream's.
func TestPartitionElection(t *testing.T) {
	const advisory = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED."
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{advisory + PartitionStream(0), true},
		{advisory + PartitionStream(63), true},
		{advisory + HeadsStreamName, false},
		{advisory + StreamName, false},
		{advisory + "KV_orgstream_presence", false},
		{"$JS.EVENT.ADVISORY.STREAM.CREATED." + PartitionStream(0), false},
	} {
		if got := partitionElection(tc.subject); got != tc.want {
			t.Errorf("partitionElection(%q) = %v, want %v", tc.subject, got, tc.want)
		}
	}
}
