package presence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/persistence"
)

// Short periods keep the tests fast; the logic is the same as with the
// defaults.
var testTimes = Config{Debounce: 20 * time.Millisecond, Heartbeat: 100 * time.Millisecond, Stale: 400 * time.Millisecond}

func startServer(t *testing.T) *persistence.Embedded {
	t.Helper()
	e, err := persistence.StartEmbedded(persistence.EmbeddedConfig{DataDir: t.TempDir(), Listen: persistence.ListenOff, NodeName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// recorder keeps what OnChange was told.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) add(c Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

func (r *recorder) all() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

// startTracker starts a tracker named node on its own connection to e.
func startTracker(t *testing.T, e *persistence.Embedded, node string) (*Tracker, *recorder) {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rec := &recorder{}
	cfg := testTimes
	cfg.Conn, cfg.Node, cfg.OnChange = nc, node, rec.add
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Stop(context.Background()) })
	return tr, rec
}

// waitFor polls cond until it holds or 5 s passed.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err = cond(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

// wantPresence is a condition: tr's presence of org is want ("user:n ...").
func wantPresence(tr *Tracker, org, want string) func() error {
	return func() error {
		p, err := tr.Presence(org)
		if err != nil {
			return err
		}
		got := ""
		for _, u := range p.Users {
			got += fmt.Sprintf("%s:%d ", u.User, u.Connections)
		}
		if got != want {
			return fmt.Errorf("presence of %s is %q, want %q", org, got, want)
		}
		sum := 0
		for _, u := range p.Users {
			sum += u.Connections
		}
		if p.Connections != sum || p.Org != org {
			return fmt.Errorf("presence %+v: total or org wrong", p)
		}
		return nil
	}
}

// wantChanges is a condition: rec was told exactly want.
func wantChanges(rec *recorder, want ...Change) func() error {
	return func() error {
		if got := rec.all(); !slices.Equal(got, want) {
			return fmt.Errorf("changes %v, want %v", got, want)
		}
		return nil
	}
}

// Two nodes on one bucket: each one's users show in the other's presence
// with the counts summed, online and offline are told once per user
// cluster-wide, and orgs stay apart.
func TestTrackersShareCounts(t *testing.T) {
	e := startServer(t)
	a, recA := startTracker(t, e, "a")
	b, recB := startTracker(t, e, "b")
	on := Change{Org: "acme", User: "alice", Online: true}
	off := Change{Org: "acme", User: "alice"}

	a.UserStreams("acme", "alice", 1)
	waitFor(t, "b sees a's user", wantPresence(b, "acme", "alice:1 "))
	b.UserStreams("acme", "alice", 1)
	b.UserStreams("acme", "alice", 2)
	b.UserStreams("other", "zed", 1)
	waitFor(t, "a sees both nodes' streams", wantPresence(a, "acme", "alice:3 "))
	waitFor(t, "b sees its own", wantPresence(b, "other", "zed:1 "))
	waitFor(t, "a is told of other's user", func() error {
		return wantChanges(recA, on, Change{Org: "other", User: "zed", Online: true})()
	})

	a.UserStreams("acme", "alice", 0)
	waitFor(t, "a's stream gone", wantPresence(b, "acme", "alice:2 "))
	b.UserStreams("acme", "alice", 0)
	waitFor(t, "alice gone", wantPresence(a, "acme", ""))
	waitFor(t, "a told alice went offline once", wantChanges(recA, on, Change{Org: "other", User: "zed", Online: true}, off))
	waitFor(t, "b told the same", wantChanges(recB, on, Change{Org: "other", User: "zed", Online: true}, off))
	if err := wantPresence(a, "other", "zed:1 ")(); err != nil {
		t.Fatal(err)
	}
}

// A node that dies without a clean leave (kill -9) is dropped by the others
// once its heartbeat is stale: its users go offline and its keys are purged
// from the bucket. A node that leaves cleanly removes its keys itself.
func TestStaleNodeDropped(t *testing.T) {
	e := startServer(t)
	a, recA := startTracker(t, e, "a")
	b, _ := startTracker(t, e, "b")
	c, _ := startTracker(t, e, "c")
	b.UserStreams("acme", "bob", 2)
	c.UserStreams("acme", "carol", 1)
	waitFor(t, "a sees b and c", wantPresence(a, "acme", "bob:2 carol:1 "))
	waitFor(t, "a told both online", func() error {
		if n := len(recA.all()); n != 2 {
			return fmt.Errorf("%d changes", n)
		}
		return nil
	})
	const told = 2

	b.crash()
	if _, err := a.kv.Get(context.Background(), orgKey("acme", b.inst)); err != nil {
		t.Fatalf("b's entry is gone right after a crash (%v): the test would prove nothing", err)
	}
	waitFor(t, "b dropped", wantPresence(a, "acme", "carol:1 "))
	waitFor(t, "b's entry purged", func() error {
		if _, err := a.kv.Get(context.Background(), orgKey("acme", b.inst)); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("b's entry: %v", err)
		}
		return nil
	})
	// An entry of b that arrives after it was dropped (written before it
	// died) is not shown, and purged again; a later change of c shows,
	// so the late entry had its chance to show before it.
	if _, err := a.kv.Put(context.Background(), orgKey("acme", b.inst), encodeUsers(map[string]int{"bob": 1})); err != nil {
		t.Fatal(err)
	}
	c.UserStreams("acme", "carol", 2)
	waitFor(t, "c's change", wantPresence(a, "acme", "carol:2 "))
	waitFor(t, "b's late entry purged", func() error {
		if _, err := a.kv.Get(context.Background(), orgKey("acme", b.inst)); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("b's entry: %v", err)
		}
		return nil
	})
	waitFor(t, "a told bob went offline", func() error {
		if got := recA.all()[told:]; !slices.Equal(got, []Change{{Org: "acme", User: "bob"}}) {
			return fmt.Errorf("changes since the crash %v, want bob offline", got)
		}
		return nil
	})

	c.Stop(context.Background())
	if _, err := a.kv.Get(context.Background(), orgKey("acme", c.inst)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("after a clean leave, c's entry: %v", err)
	}
	waitFor(t, "c left", wantPresence(a, "acme", ""))
}

// A burst of changes is written at most once per Debounce (and once at the
// end): the writes grow with time, not with connects.
func TestDebouncedWrites(t *testing.T) {
	e := startServer(t)
	a, _ := startTracker(t, e, "a")
	b, _ := startTracker(t, e, "b")
	w, err := b.kv.Watch(context.Background(), orgKey("acme", a.inst), jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	start := time.Now()
	const n = 2000
	for i := 1; i <= n; i++ {
		a.UserStreams("acme", "u", i)
	}
	elapsed := time.Since(start)
	final := string(encodeUsers(map[string]int{"u": n}))
	writes := 0
	for timeout := time.After(5 * time.Second); ; {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-timeout:
			t.Fatalf("the last count was not written (%d writes)", writes)
		}
		if e == nil {
			continue
		}
		writes++
		if string(e.Value()) == final {
			break
		}
	}
	if bound := int(elapsed/testTimes.Debounce) + 2; writes > bound || writes == 0 {
		t.Fatalf("%d changes made %d writes in %v; want 1..%d", n, writes, elapsed, bound)
	}
	t.Logf("%d changes, %d writes", n, writes)
}

// A node that no longer hears its own heartbeat (cut off from NATS) judges
// nobody: the others' users stay, though their heartbeats are not heard
// either. Absence over time cannot be waited for: the test waits three
// Stale periods.
func TestDeafNodeJudgesNobody(t *testing.T) {
	e := startServer(t)
	a, recA := startTracker(t, e, "a")
	b, _ := startTracker(t, e, "b")
	b.UserStreams("acme", "bob", 1)
	waitFor(t, "a sees b", wantPresence(a, "acme", "bob:1 "))
	a.deafen()
	time.Sleep(3 * testTimes.Stale)
	if err := wantPresence(a, "acme", "bob:1 ")(); err != nil {
		t.Fatalf("a deaf node dropped another: %v", err)
	}
	if got := recA.all(); len(got) != 1 {
		t.Fatalf("a deaf node told %v, want only bob online", got)
	}
}
