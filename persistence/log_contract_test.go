package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// The contract of Log (log.go), run against every implementation: the
// in-memory log, the JetStream log on an embedded server (in-process
// connection), with the default partitions and with one, and the JetStream
// log on a separately started nats-server over loopback TCP (the --nats-url
// path).

// harness is one implementation under test on a fresh store.
type harness struct {
	log   Log
	close func() error
	// peer is another writer on the same store (a second node).
	peer func() Log
	// advance lets time pass for retention (a fake clock, or sleeping).
	advance func(time.Duration)
}

// contractCfg is the part of the configuration the cases vary; zero values
// mean the defaults.
type contractCfg struct {
	Retention time.Duration
	MaxEvents int64
	Dedup     time.Duration
}

type impl struct {
	name string
	open func(t *testing.T, c contractCfg) *harness
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func impls() []impl {
	jsHarness := func(t *testing.T, c contractCfg, partitions int, dial func() *nats.Conn) *harness {
		cfg := func(nc *nats.Conn) JetStreamConfig {
			return JetStreamConfig{Conn: nc, Retention: c.Retention, MaxEventsPerOrg: c.MaxEvents, DedupWindow: c.Dedup,
				Partitions: partitions}
		}
		l := openJetStream(t, cfg(dial()))
		return &harness{
			log:     l,
			close:   l.Close,
			peer:    func() Log { return openJetStream(t, cfg(dial())) },
			advance: time.Sleep,
		}
	}
	return []impl{
		{"memory", func(t *testing.T, c contractCfg) *harness {
			clock := &fakeClock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
			l := NewMemory(MemoryConfig{Retention: c.Retention, MaxEventsPerOrg: c.MaxEvents, DedupWindow: c.Dedup, Now: clock.Now})
			t.Cleanup(func() { _ = l.Close() })
			return &harness{log: l, close: l.Close, peer: func() Log { return l }, advance: clock.Add}
		}},
		{"jetstream-embedded", func(t *testing.T, c contractCfg) *harness {
			e := startEmbedded(t, t.TempDir())
			return jsHarness(t, c, 0, func() *nats.Conn { return connect(t, e) })
		}},
		{"jetstream-embedded-one-partition", func(t *testing.T, c contractCfg) *harness {
			e := startEmbedded(t, t.TempDir())
			return jsHarness(t, c, 1, func() *nats.Conn { return connect(t, e) })
		}},
		{"jetstream-external", func(t *testing.T, c contractCfg) *harness {
			url := startExternal(t)
			return jsHarness(t, c, 0, func() *nats.Conn {
				nc, err := nats.Connect(url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				return nc
			})
		}},
	}
}

var contractCases = []struct {
	name string
	run  func(t *testing.T, im impl)
}{
	{"AppendReadBounds", testAppendReadBounds},
	{"InvalidInput", testInvalidInput},
	{"ConcurrentWriters", testConcurrentWriters},
	{"Idempotency", testIdempotency},
	{"BatchWithDuplicate", testBatchWithDuplicate},
	{"ConcurrentBatchesWithDuplicates", testConcurrentBatchesWithDuplicates},
	{"ConcurrentSameNewID", testConcurrentSameNewID},
	{"DedupWindowEnds", testDedupWindowEnds},
	{"RetentionByCount", testRetentionByCount},
	{"RetentionByTime", testRetentionByTime},
	{"Follow", testFollow},
	{"FollowJump", testFollowJump},
	{"ReadBoundedInBytes", testReadBoundedInBytes},
	{"Closed", testClosed},
	{"To", testTo},
}

func TestLogContract(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range contractCases {
				t.Run(c.name, func(t *testing.T) { c.run(t, im) })
			}
		})
	}
}

func testAppendReadBounds(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l, ctx := h.log, ctxT(t)
	if l.Epoch() == "" {
		t.Fatal("empty epoch")
	}
	if hd, err := l.Head(ctx, "acme"); err != nil || hd != (Head{}) {
		t.Fatalf("Head of a new org = %+v, %v; want zero", hd, err)
	}
	if first, head, err := l.Bounds(ctx, "acme"); err != nil || first != 1 || head != 0 {
		t.Fatalf("Bounds of a new org = %d, %d, %v; want 1, 0", first, head, err)
	}
	if head, err := l.LeaderHead(ctx, "acme"); err != nil || head != 0 {
		t.Fatalf("LeaderHead of a new org = %d, %v; want 0", head, err)
	}
	if evs, err := l.Read(ctx, "acme", 1, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Read of a new org = %v, %v", evs, err)
	}

	r1, err := l.Append(ctx, "acme", Head{}, []messages.Draft{draft("orders.created", "id-1", `{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r1.Seqs, []uint64{1}) || !slices.Equal(r1.Duplicate, []bool{false}) ||
		len(r1.Events) != 1 || r1.Head.Seq != 1 || r1.Head.Rev == 0 {
		t.Fatalf("first append = %+v", r1)
	}
	if ev := r1.Events[0]; ev.Seq != 1 || ev.Topic != "orders.created" || ev.ID != "id-1" ||
		string(ev.Data) != `{"n":1}` || ev.Time.IsZero() || ev.Time.Location() != time.UTC {
		t.Fatalf("first event = %+v", ev)
	}
	r2, err := l.Append(ctx, "acme", r1.Head, drafts(3, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r2.Seqs, []uint64{2, 3, 4}) || !slices.Equal(seqsOf(r2.Events), []uint64{2, 3, 4}) || r2.Head.Seq != 4 {
		t.Fatalf("batch append = %+v", r2)
	}
	for _, stale := range []Head{r1.Head, {}, {Seq: 4}} {
		if _, err := l.Append(ctx, "acme", stale, drafts(1, "x")); !errors.Is(err, ErrConflict) {
			t.Fatalf("Append after stale head %+v: err = %v, want ErrConflict", stale, err)
		}
	}
	if hd, err := l.Head(ctx, "acme"); err != nil || hd != r2.Head {
		t.Fatalf("Head = %+v, %v; want %+v", hd, err, r2.Head)
	}
	if first, head, err := l.Bounds(ctx, "acme"); err != nil || first != 1 || head != 4 {
		t.Fatalf("Bounds = %d, %d, %v; want 1, 4", first, head, err)
	}
	if head, err := l.LeaderHead(ctx, "acme"); err != nil || head != 4 {
		t.Fatalf("LeaderHead = %d, %v; want 4", head, err)
	}

	all := append(slices.Clone(r1.Events), r2.Events...)
	for _, tc := range []struct {
		from uint64
		max  int
		want []uint64
	}{
		{0, 10, []uint64{1, 2, 3, 4}},
		{1, 10, []uint64{1, 2, 3, 4}},
		{3, 10, []uint64{3, 4}},
		{2, 1, []uint64{2}},
		{2, 2, []uint64{2, 3}},
		{4, 10, []uint64{4}},
		{5, 10, []uint64{}},
		{1, 0, []uint64{}},
	} {
		t.Run(fmt.Sprintf("Read(%d,%d)", tc.from, tc.max), func(t *testing.T) {
			evs, err := l.Read(ctx, "acme", tc.from, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqsOf(evs), tc.want) {
				t.Fatalf("seqs = %v, want %v", seqsOf(evs), tc.want)
			}
			for _, ev := range evs {
				w := all[ev.Seq-1]
				if ev.Topic != w.Topic || ev.ID != w.ID || string(ev.Data) != string(w.Data) || !ev.Time.Equal(w.Time) {
					t.Fatalf("read %+v, appended %+v", ev, w)
				}
			}
		})
	}

	if res, err := l.Append(ctx, "acme", r2.Head, nil); err != nil || res.Head != r2.Head {
		t.Fatalf("empty Append = %+v, %v", res, err)
	}
	if hd, err := l.Head(ctx, "other"); err != nil || hd != (Head{}) {
		t.Fatalf("Head of another org = %+v, %v", hd, err)
	}
}

func testInvalidInput(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l, ctx := h.log, ctxT(t)
	for _, org := range []string{"", "a.b", "a*", ">", "a b", string(make([]byte, 65))} {
		if _, err := l.Head(ctx, org); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Head(%q) err = %v", org, err)
		}
		if _, err := l.Append(ctx, org, Head{}, drafts(1, "x")); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Append(%q) err = %v", org, err)
		}
		if _, _, err := l.Bounds(ctx, org); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Bounds(%q) err = %v", org, err)
		}
		if _, err := l.LeaderHead(ctx, org); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("LeaderHead(%q) err = %v", org, err)
		}
		if _, err := l.Read(ctx, org, 1, 1); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Read(%q) err = %v", org, err)
		}
		if _, err := l.Follow(org, 0, func(messages.Event) {}); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Follow(%q) err = %v", org, err)
		}
	}
	if _, err := l.Append(ctx, "acme", Head{}, drafts(MaxBatch+1, "x")); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("Append of %d drafts: err = %v", MaxBatch+1, err)
	}
}

// testConcurrentWriters: 4 writers (on two connections for JetStream, like
// two nodes) append to 2 orgs, each Head → Append → on conflict re-Head.
func testConcurrentWriters(t *testing.T, im impl) {
	const writers, perOrg = 4, 25
	h := im.open(t, contractCfg{})
	logs := []Log{h.log, h.peer()}
	orgs := []string{"alpha", "beta"}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			l := logs[w%len(logs)]
			heads := map[string]Head{}
			for i := range perOrg * len(orgs) {
				org := orgs[i%len(orgs)]
				d := draft("t.w", "", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				for {
					res, err := l.Append(ctx, org, heads[org], []messages.Draft{d})
					if err == nil {
						heads[org] = res.Head
						break
					}
					if !errors.Is(err, ErrConflict) {
						errs <- err
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
					if heads[org], err = l.Head(ctx, org); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d conflicts retried", conflicts)
	for _, org := range orgs {
		evs, err := h.log.Read(ctx, org, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != writers*perOrg {
			t.Fatalf("%s: %d events, want %d", org, len(evs), writers*perOrg)
		}
		seen := map[string]bool{}
		for i, ev := range evs {
			if ev.Seq != uint64(i+1) {
				t.Fatalf("%s: event %d has seq %d (gap or duplicate seq)", org, i, ev.Seq)
			}
			if seen[string(ev.Data)] {
				t.Fatalf("%s: %s stored twice", org, ev.Data)
			}
			seen[string(ev.Data)] = true
		}
	}
}

func testIdempotency(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l, ctx := h.log, ctxT(t)
	r1 := mustAppend(t, l, "acme", draft("t", "k1", `"first"`))
	hd, err := l.Head(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Append(ctx, "acme", hd, []messages.Draft{draft("t", "k1", `"again"`)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Seqs, r1.Seqs) || !slices.Equal(res.Duplicate, []bool{true}) || len(res.Events) != 0 || res.Head != hd {
		t.Fatalf("duplicate append = %+v, want seq %v duplicate", res, r1.Seqs)
	}
	if evs, err := l.Read(ctx, "acme", 1, 10); err != nil || len(evs) != 1 || string(evs[0].Data) != `"first"` {
		t.Fatalf("after duplicate Read = %v, %v", evs, err)
	}
	if now, err := l.Head(ctx, "acme"); err != nil || now != hd {
		t.Fatalf("duplicate moved the head: %+v, %v", now, err)
	}
	r2 := mustAppend(t, l, "acme", draft("t", "k2", `2`))
	if r2.Seqs[0] != 2 || r2.Duplicate[0] {
		t.Fatalf("second id = %+v", r2)
	}
	// IDs are scoped per org.
	rb := mustAppend(t, l, "beta", draft("t", "k1", `"beta"`))
	if rb.Seqs[0] != 1 || rb.Duplicate[0] {
		t.Fatalf("same id on another org = %+v, want stored as seq 1", rb)
	}
	// A batch of duplicates stores nothing.
	all := mustAppend(t, l, "acme", draft("t", "k2", `0`), draft("t", "k1", `0`))
	if !slices.Equal(all.Seqs, []uint64{2, 1}) || !slices.Equal(all.Duplicate, []bool{true, true}) || len(all.Events) != 0 {
		t.Fatalf("batch of duplicates = %+v", all)
	}
	if _, head, err := l.Bounds(ctx, "acme"); err != nil || head != 2 {
		t.Fatalf("head = %d, %v; want 2", head, err)
	}
	// IDs stored by an atomic batch are remembered like single ones.
	if b := mustAppend(t, l, "acme", draft("t", "x1", `1`), draft("t", "x2", `2`)); !slices.Equal(b.Seqs, []uint64{3, 4}) {
		t.Fatalf("batch with new ids = %+v", b)
	}
	if d := mustAppend(t, l, "acme", draft("t", "x2", `0`)); !d.Duplicate[0] || d.Seqs[0] != 4 {
		t.Fatalf("id from a batch = %+v, want duplicate of 4", d)
	}
}

func testBatchWithDuplicate(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l, ctx := h.log, ctxT(t)
	mustAppend(t, l, "acme", draft("t", "a", `"a"`))
	res := mustAppend(t, l, "acme",
		draft("t", "", `"n1"`), draft("t", "a", `"a2"`), draft("t", "b", `"b"`), draft("t", "b", `"b2"`), draft("t", "", `"n2"`))
	if !slices.Equal(res.Seqs, []uint64{2, 1, 3, 3, 4}) || !slices.Equal(res.Duplicate, []bool{false, true, false, true, false}) ||
		!slices.Equal(seqsOf(res.Events), []uint64{2, 3, 4}) || res.Head.Seq != 4 {
		t.Fatalf("batch with duplicates = %+v", res)
	}
	evs, err := l.Read(ctx, "acme", 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, string(ev.Data))
	}
	if want := []string{`"a"`, `"n1"`, `"b"`, `"n2"`}; !slices.Equal(got, want) || !slices.Equal(seqsOf(evs), []uint64{1, 2, 3, 4}) {
		t.Fatalf("stored %v (seqs %v), want %v", got, seqsOf(evs), want)
	}
}

// contend seeds acme with the event of id "seed", then runs writers
// goroutines that each append rounds batches through one of two logs of one
// store: round(l, w, r, seed) builds, appends and checks writer w's round r.
// It fails on the first error and returns the org's events, checked to be
// at seqs 1..n without holes.
func contend(t *testing.T, im impl, writers, rounds int, round func(ctx context.Context, l Log, w, r int, seed uint64) error) []messages.Event {
	t.Helper()
	h := im.open(t, contractCfg{})
	logs := []Log{h.log, h.peer()}
	ctx := ctxT(t)
	seed := mustAppend(t, h.log, "acme", draft("t", "seed", `"seed"`)).Seqs[0]
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				if err := round(ctx, logs[w%len(logs)], w, r, seed); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs, err := h.log.Read(ctx, "acme", 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqsOf(evs), seqRange(1, uint64(len(evs)))) {
		t.Fatalf("stored seqs %v, want 1..%d", seqsOf(evs), len(evs))
	}
	return evs
}

// Batches holding a duplicate, from writers that contend for the same org
// on two logs of one store: every Append is all or nothing, its new drafts
// at consecutive seqs, whoever else writes in between.
func testConcurrentBatchesWithDuplicates(t *testing.T, im impl) {
	const writers, rounds = 4, 10
	evs := contend(t, im, writers, rounds, func(ctx context.Context, l Log, w, r int, seed uint64) error {
		ds := []messages.Draft{
			draft("t", "", fmt.Sprintf(`"%d.%d.a"`, w, r)),
			draft("t", "seed", `"again"`),
			draft("t", fmt.Sprintf("id-%d-%d", w, r), fmt.Sprintf(`"%d.%d.b"`, w, r)),
			draft("t", "", fmt.Sprintf(`"%d.%d.c"`, w, r)),
		}
		res, err := appendRetrying(ctx, l, "acme", ds)
		if err != nil {
			return err
		}
		k := res.Seqs[0]
		if !slices.Equal(res.Seqs, []uint64{k, seed, k + 1, k + 2}) ||
			!slices.Equal(res.Duplicate, []bool{false, true, false, false}) ||
			!slices.Equal(seqsOf(res.Events), []uint64{k, k + 1, k + 2}) || res.Head.Seq != k+2 {
			return fmt.Errorf("writer %d round %d: %+v, want new drafts at consecutive seqs", w, r, res)
		}
		return nil
	})
	if want := 1 + writers*rounds*3; len(evs) != want {
		t.Fatalf("stored seqs %v, want 1..%d", seqsOf(evs), want)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[string(ev.Data)] {
			t.Fatalf("%s stored twice", ev.Data)
		}
		seen[string(ev.Data)] = true
	}
}

// Writers on two logs append batches that share a new ID (and hold a known
// duplicate): the ID becomes a duplicate while the others check or store
// their batches. It is stored once, every writer gets its seq, and each
// batch is still all or nothing at consecutive seqs.
func testConcurrentSameNewID(t *testing.T, im impl) {
	const writers, rounds = 4, 8
	var mu sync.Mutex
	shared := map[int]map[uint64]bool{} // round -> seqs answered for its shared id
	evs := contend(t, im, writers, rounds, func(ctx context.Context, l Log, w, r int, seed uint64) error {
		ds := []messages.Draft{
			draft("t", "seed", `"again"`),
			draft("t", fmt.Sprintf("shared-%d", r), fmt.Sprintf(`"shared %d by %d"`, r, w)),
			draft("t", "", fmt.Sprintf(`"%d.%d"`, w, r)),
		}
		res, err := appendRetrying(ctx, l, "acme", ds)
		if err != nil {
			return err
		}
		if res.Seqs[0] != seed || !res.Duplicate[0] || res.Duplicate[2] ||
			(!res.Duplicate[1] && res.Seqs[2] != res.Seqs[1]+1) || len(res.Events) != 3-btoi(res.Duplicate[1])-1 {
			return fmt.Errorf("writer %d round %d: %+v", w, r, res)
		}
		mu.Lock()
		if shared[r] == nil {
			shared[r] = map[uint64]bool{}
		}
		shared[r][res.Seqs[1]] = true
		mu.Unlock()
		return nil
	})
	for r, seqs := range shared {
		if len(seqs) != 1 {
			t.Fatalf("round %d: the shared id got seqs %v", r, seqs)
		}
	}
	if want := 1 + rounds + writers*rounds; len(evs) != want {
		t.Fatalf("stored seqs %v, want 1..%d", seqsOf(evs), want)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func testDedupWindowEnds(t *testing.T, im impl) {
	const window = 300 * time.Millisecond
	h := im.open(t, contractCfg{Dedup: window})
	l := h.log
	if r := mustAppend(t, l, "acme", draft("t", "k", `1`)); r.Seqs[0] != 1 {
		t.Fatalf("first = %+v", r)
	}
	if r := mustAppend(t, l, "acme", draft("t", "k", `2`)); !r.Duplicate[0] || r.Seqs[0] != 1 {
		t.Fatalf("within the window = %+v", r)
	}
	h.advance(window + 200*time.Millisecond)
	if r := mustAppend(t, l, "acme", draft("t", "k", `3`)); r.Duplicate[0] || r.Seqs[0] != 2 {
		t.Fatalf("after the window = %+v, want stored as 2", r)
	}
}

func testRetentionByCount(t *testing.T, im impl) {
	h := im.open(t, contractCfg{MaxEvents: 5})
	l, ctx := h.log, ctxT(t)
	mustAppend(t, l, "acme", drafts(3, "a")...)
	for range 5 {
		mustAppend(t, l, "acme", drafts(1, "b")...)
	}
	first, head, err := l.Bounds(ctx, "acme")
	if err != nil || first != 4 || head != 8 {
		t.Fatalf("Bounds = %d, %d, %v; want 4, 8", first, head, err)
	}
	for _, tc := range []struct {
		from uint64
		max  int
		want []uint64
	}{
		{1, 100, []uint64{4, 5, 6, 7, 8}},
		{2, 2, []uint64{4, 5}},
		{6, 100, []uint64{6, 7, 8}},
	} {
		evs, err := l.Read(ctx, "acme", tc.from, tc.max)
		if err != nil || !slices.Equal(seqsOf(evs), tc.want) {
			t.Fatalf("Read(%d, %d) = %v, %v; want %v", tc.from, tc.max, seqsOf(evs), err, tc.want)
		}
	}
}

// testRetentionByTime: once every event aged out the counter goes on at
// head+1 (invariant 3), and stale heads still conflict.
func testRetentionByTime(t *testing.T, im impl) {
	const retention = time.Second
	h := im.open(t, contractCfg{Retention: retention})
	l, ctx := h.log, ctxT(t)
	mustAppend(t, l, "acme", drafts(2, "a")...)
	stale := mustAppend(t, l, "acme", draft("t", "k", `3`)).Head
	h.advance(retention)
	eventually(t, 5*time.Second, "all events to age out", func() bool {
		first, head, err := l.Bounds(ctx, "acme")
		return err == nil && first == 4 && head == 3
	})
	hd, err := l.Head(ctx, "acme")
	if err != nil || hd != (Head{Seq: 3}) {
		t.Fatalf("Head after age-out = %+v, %v; want {3 0}", hd, err)
	}
	if head, err := l.LeaderHead(ctx, "acme"); err != nil || head != 3 {
		t.Fatalf("LeaderHead after age-out = %d, %v; want 3", head, err)
	}
	if evs, err := l.Read(ctx, "acme", 1, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Read after age-out = %v, %v", seqsOf(evs), err)
	}
	for _, bad := range []Head{stale, {}, {Seq: 2}} {
		if _, err := l.Append(ctx, "acme", bad, drafts(1, "x")); !errors.Is(err, ErrConflict) {
			t.Fatalf("Append after %+v: err = %v, want ErrConflict", bad, err)
		}
	}
	res, err := l.Append(ctx, "acme", hd, drafts(2, "c"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Seqs, []uint64{4, 5}) {
		t.Fatalf("after age-out seqs = %v, want [4 5]", res.Seqs)
	}
	if first, head, err := l.Bounds(ctx, "acme"); err != nil || first != 4 || head != 5 {
		t.Fatalf("Bounds = %d, %d, %v; want 4, 5", first, head, err)
	}
}

// collector gathers a follower's events.
type collector struct {
	mu  sync.Mutex
	evs []messages.Event
}

func (c *collector) add(ev messages.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
}

func (c *collector) seqs() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return seqsOf(c.evs)
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func testFollow(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l := h.log
	mustAppend(t, l, "acme", drafts(3, "a")...)
	var c collector
	f, err := l.Follow("acme", 1, c.add)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // appended while the feed catches up and goes live
		mustAppend(t, l, "acme", drafts(i%3+1, "b")...)
		mustAppend(t, l, "other", drafts(1, "o")...)
	}
	eventually(t, 5*time.Second, "events 2..15", func() bool { return len(c.seqs()) >= 14 })
	if got := c.seqs(); !slices.Equal(got, seqRange(2, 15)) {
		t.Fatalf("followed %v, want 2..15", got)
	}
	c.mu.Lock()
	for _, ev := range c.evs {
		var v map[string]int
		if ev.Topic == "" || ev.Time.IsZero() || json.Unmarshal(ev.Data, &v) != nil {
			t.Fatalf("followed event %+v", ev)
		}
	}
	c.mu.Unlock()
	f.Stop()
	f.Stop()
	mustAppend(t, l, "acme", drafts(1, "c")...)
	time.Sleep(50 * time.Millisecond)
	if n := len(c.seqs()); n != 14 {
		t.Fatalf("fn called after Stop: %d events", n)
	}

	// From the head: only new events.
	var c2 collector
	f2, err := l.Follow("acme", 16, c2.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Stop()
	mustAppend(t, l, "acme", drafts(1, "d")...)
	eventually(t, 5*time.Second, "event 17", func() bool { return len(c2.seqs()) == 1 })
	if got := c2.seqs(); !slices.Equal(got, []uint64{17}) {
		t.Fatalf("followed %v, want [17]", got)
	}
}

// testReadBoundedInBytes: a Read stops once the data reaches ReadMaxBytes
// (at least one event), and a Follow from before reads on to the end.
func testReadBoundedInBytes(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l, ctx := h.log, ctxT(t)
	const size = 900 << 10 // events of ~900 KiB: 12 of them pass 8 MiB
	big := `"` + strings.Repeat("x", size-2) + `"`
	const n = 12
	for i := range n {
		mustAppend(t, l, "acme", messages.Draft{Topic: "big", Data: json.RawMessage(big), ID: fmt.Sprintf("big-%d", i)})
	}
	evs, err := l.Read(ctx, "acme", 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := (ReadMaxBytes + size - 1) / size // the event that reaches the bound is the last
	if len(evs) != want || !ReachedReadBytes(evs) {
		t.Fatalf("Read of %d events of %d bytes returned %d, want %d (ReadMaxBytes %d)", n, size, len(evs), want, ReadMaxBytes)
	}
	if rest, err := l.Read(ctx, "acme", uint64(want+1), 1000); err != nil || len(rest) != n-want || rest[0].Seq != uint64(want+1) {
		t.Fatalf("Read on from %d: %d events, %v", want+1, len(rest), err)
	}
	var c collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	eventually(t, 10*time.Second, "all big events followed", func() bool { return len(c.seqs()) >= n })
	if got := c.seqs(); !slices.Equal(got, seqRange(1, n)) {
		t.Fatalf("followed %v, want 1..%d", got, n)
	}
}

// testFollowJump: what aged out before the feed got to it is skipped.
func testFollowJump(t *testing.T, im impl) {
	h := im.open(t, contractCfg{MaxEvents: 3})
	l := h.log
	for range 10 {
		mustAppend(t, l, "acme", drafts(1, "a")...)
	}
	var c collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	eventually(t, 5*time.Second, "events 8..10", func() bool { return len(c.seqs()) >= 3 })
	mustAppend(t, l, "acme", drafts(1, "b")...)
	eventually(t, 5*time.Second, "events 8..11", func() bool { return len(c.seqs()) >= 4 })
	if got := c.seqs(); !slices.Equal(got, seqRange(8, 11)) {
		t.Fatalf("followed %v, want 8..11", got)
	}
}

func testClosed(t *testing.T, im impl) {
	h := im.open(t, contractCfg{})
	l, ctx := h.log, ctxT(t)
	mustAppend(t, l, "acme", drafts(1, "a")...)
	var c collector
	if _, err := l.Follow("acme", 0, c.add); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the follower's first event", func() bool { return len(c.seqs()) == 1 })
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	if err := h.close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Head(ctx, "acme"); !errors.Is(err, ErrClosed) {
		t.Errorf("Head err = %v", err)
	}
	if _, err := l.Append(ctx, "acme", Head{}, drafts(1, "x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append err = %v", err)
	}
	if _, _, err := l.Bounds(ctx, "acme"); !errors.Is(err, ErrClosed) {
		t.Errorf("Bounds err = %v", err)
	}
	if _, err := l.Read(ctx, "acme", 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Read err = %v", err)
	}
	if _, err := l.Follow("acme", 0, c.add); !errors.Is(err, ErrClosed) {
		t.Errorf("Follow err = %v", err)
	}
}
