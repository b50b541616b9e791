package persistence

import (
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstream/orgstream/messages"
)

// An idle follower holds no goroutine: 500 orgs followed on one log, each
// past one event read from the log and one received live, cost no more
// goroutines than none, and each gets its events in order. (Not parallel:
// it counts the process's goroutines.)
func TestFollowIdleHoldsNoGoroutine(t *testing.T) {
	const orgs = 500
	for _, im := range impls()[:2] { // memory, jetstream-embedded
		t.Run(im.name, func(t *testing.T) {
			l := im.open(t, contractCfg{}).log
			org := func(i int) string { return "org" + strconv.Itoa(i) }
			for i := range orgs {
				mustAppend(t, l, org(i), drafts(1, "old")...)
			}
			before := runtime.NumGoroutine()
			cs := make([]collector, orgs)
			fs := make([]Follower, orgs)
			for i := range orgs {
				f, err := l.Follow(org(i), 0, cs[i].add)
				if err != nil {
					t.Fatal(err)
				}
				fs[i] = f
			}
			defer func() {
				for _, f := range fs {
					f.Stop()
				}
			}()
			delivered := func(n int) func() bool {
				return func() bool {
					for i := range cs {
						if len(cs[i].seqs()) < n {
							return false
						}
					}
					return true
				}
			}
			eventually(t, 30*time.Second, "every org's stored event", delivered(1))
			for i := range orgs {
				mustAppend(t, l, org(i), drafts(1, "new")...)
			}
			eventually(t, 30*time.Second, "every org's live event", delivered(2))
			for i := range cs {
				if got := cs[i].seqs(); !slices.Equal(got, []uint64{1, 2}) {
					t.Fatalf("%s followed %v, want [1 2]", org(i), got)
				}
			}
			// Workers end once their follower has nothing left to do; a
			// few goroutines of the runtime or the connection may come
			// and go meanwhile, a goroutine per follower may not.
			const slack = 10
			eventually(t, 10*time.Second, "the workers to end", func() bool {
				return runtime.NumGoroutine() <= before+slack
			})
		})
	}
}

// While a worker holds the turn (here: fn blocks on the first event, read
// from the log), later live messages queue behind it; past the queue's bound
// they are let go and the worker catches up from the log instead: every
// event once, in order.
func TestJetStreamFollowQueueOverflow(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e), liveQueue: 4})
	mustAppend(t, l, "acme", drafts(1, "a")...)
	c, fl, open := followBlocked(t, l, "acme", 1)
	defer fl.Stop()
	defer open() // before Stop, should the test fail while fn blocks
	f := fl.(*jsFollower)
	eventually(t, 5*time.Second, "event 1", func() bool { return len(c.seqs()) == 1 })
	for range 30 {
		mustAppend(t, l, "acme", drafts(1, "b")...)
	}
	eventually(t, 5*time.Second, "the queue to overflow", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.catchUpDue && len(f.queue) < 4
	})
	open()
	eventually(t, 5*time.Second, "31 events", func() bool { return len(c.seqs()) >= 31 })
	if got := c.seqs(); !slices.Equal(got, seqRange(1, 31)) {
		t.Fatalf("followed %v", got)
	}
}

// Stop of a follower whose worker backs off (the stream is gone) returns,
// and fn is not called after it, not even once the store is back.
func TestJetStreamFollowStopDuringBackoff(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	core, logs := observer.New(zapcore.DebugLevel)
	l := openJetStream(t, JetStreamConfig{Conn: nc, Logger: zap.New(core)})
	ctx := ctxT(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, l.part("acme").stream); err != nil {
		t.Fatal(err)
	}
	var c collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the worker to back off", func() bool {
		return logs.FilterMessageSnippet("follower read failed, retrying").Len() >= 2
	})
	stopped := make(chan struct{})
	go func() {
		f.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return during the backoff")
	}
	if _, err := js.CreateStream(ctx, l.cfg.partitionConfig(l.part("acme").index)); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "acme", drafts(3, "a")...)
	// Longer than the longest backoff and than an idle check.
	time.Sleep(followBackoffMax + followIdle/2)
	if n := len(c.seqs()); n != 0 {
		t.Fatalf("fn called %d times after Stop", n)
	}
	// The store is back: a new follower gets the events.
	var c2 collector
	f2, err := l.Follow("acme", 0, c2.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Stop()
	eventually(t, 10*time.Second, "the events", func() bool { return len(c2.seqs()) == 3 })
}

// Stop while fn runs on the log's dispatcher (a trusted live message) waits
// for fn to return; the org's later events are not delivered, and the other
// orgs' feeds go on.
func TestJetStreamFollowStopWhileDispatching(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	l := openJetStream(t, JetStreamConfig{Conn: connect(t, e)})
	mustAppend(t, l, "acme", drafts(1, "a")...)
	entered, release := make(chan struct{}), make(chan struct{})
	open := sync.OnceFunc(func() { close(release) })
	defer open()
	var c, other collector
	fl, err := l.Follow("acme", 0, func(ev messages.Event) {
		c.add(ev)
		if ev.Seq == 2 {
			close(entered)
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	f := fl.(*jsFollower)
	fo, err := l.Follow("other", 0, other.add)
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Stop()
	eventually(t, 5*time.Second, "event 1 from the log, and the worker done", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(c.seqs()) == 1 && !f.busy
	})
	mustAppend(t, l, "acme", drafts(1, "a")...)
	<-entered
	stopped := make(chan struct{})
	go func() {
		fl.Stop()
		close(stopped)
	}()
	eventually(t, 5*time.Second, "Stop to mark the feed", f.stopped.Load)
	select {
	case <-stopped:
		t.Fatal("Stop returned while fn ran")
	default:
	}
	mustAppend(t, l, "acme", drafts(2, "b")...)
	open()
	<-stopped
	mustAppend(t, l, "other", drafts(2, "o")...)
	eventually(t, 5*time.Second, "the other org's events", func() bool { return len(other.seqs()) == 2 })
	if got := c.seqs(); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("followed %v after Stop, want [1 2]", got)
	}
}

// Events stored while the follower's connection was away (the server
// restarted) reach it after the reconnect with no later live message: the
// idle check sees the reconnect and catches up from the log.
func TestJetStreamFollowCatchesUpAfterReconnect(t *testing.T) {
	opts := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, ServerName: "restarts",
	}
	start := func() *server.Server {
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		return s
	}
	s := start()
	opts.Port = s.Addr().(*net.TCPAddr).Port
	url := s.ClientURL()
	// The follower's connection comes back 2s after it lost the server,
	// while the writer stores events on a connection of its own.
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := openJetStream(t, JetStreamConfig{Conn: nc})
	var c collector
	f, err := l.Follow("acme", 0, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	mustAppend(t, l, "acme", drafts(2, "a")...)
	eventually(t, 5*time.Second, "events 1..2", func() bool { return len(c.seqs()) == 2 })

	s.Shutdown()
	s.WaitForShutdown()
	start()
	writer := openJetStream(t, JetStreamConfig{Conn: dial(t, url)})
	mustAppend(t, writer, "acme", drafts(3, "b")...)
	if nc.Stats().Reconnects != 0 {
		t.Skip("the follower's connection came back before the events were stored")
	}
	eventually(t, 10*time.Second, "events 3..5 after the reconnect", func() bool { return len(c.seqs()) >= 5 })
	if got := c.seqs(); !slices.Equal(got, seqRange(1, 5)) {
		t.Fatalf("followed %v", got)
	}
}

// followBlocked follows org from the start, collecting events in c; fn
// blocks at seq until open is called (safe to call twice), so that the
// feed's dispatcher is held while the test makes its messages pile up.
func followBlocked(t *testing.T, l Log, org string, seq uint64) (c *collector, fl Follower, open func()) {
	t.Helper()
	release := make(chan struct{})
	c = &collector{}
	fl, err := l.Follow(org, 0, func(ev messages.Event) {
		c.add(ev)
		if ev.Seq == seq {
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, fl, sync.OnceFunc(func() { close(release) })
}
