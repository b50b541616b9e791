package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// startEmbedded starts an embedded server on dir without a listener.
func startEmbedded(t testing.TB, dir string) *Embedded {
	t.Helper()
	e, err := StartEmbedded(EmbeddedConfig{DataDir: dir, Listen: ListenOff, NodeName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// connect opens a client connection that is closed at cleanup.
func connect(t testing.TB, e *Embedded) *nats.Conn {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// openJetStream opens a log that is closed at cleanup.
func openJetStream(t testing.TB, cfg JetStreamConfig) *JetStreamLog {
	t.Helper()
	// Generous: a replicated stream's creation waits for its Raft group,
	// which on a loaded 2-core box (the whole suite in parallel) has
	// taken over 10 s.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := OpenJetStream(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// startExternal starts a nats-server with JetStream on its own loopback TCP
// port, as `nats-server -js` would run, and returns its URL.
func startExternal(t testing.TB) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, ServerName: "external",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("external nats-server not ready")
	}
	return s.ClientURL()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func draft(topic, id, data string) messages.Draft {
	return messages.Draft{Topic: topic, ID: id, Data: []byte(data)}
}

func drafts(n int, prefix string) []messages.Draft {
	ds := make([]messages.Draft, n)
	for i := range ds {
		ds[i] = draft("t.batch", "", fmt.Sprintf(`{"%s":%d}`, prefix, i))
	}
	return ds
}

// mustAppend appends after the current head, retrying conflicts.
func mustAppend(t testing.TB, l Log, org string, ds ...messages.Draft) Appended {
	t.Helper()
	ctx := ctxT(t)
	for range 100 {
		h, err := l.Head(ctx, org)
		if errors.Is(err, ErrUnavailable) && retrySafe(ds) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Append(ctx, org, h, ds)
		switch {
		case errors.Is(err, ErrConflict):
			continue
		case errors.Is(err, ErrUnavailable) && retrySafe(ds):
			// A replicated stream just created may have no Direct Get
			// responder on every replica yet (seen under load: "no
			// JetStream responder"); with ids, a retry is always safe.
			time.Sleep(50 * time.Millisecond)
			continue
		case err != nil:
			t.Fatal(err)
		}
		return res
	}
	t.Fatal("too many conflicts or unavailable answers")
	return Appended{}
}

// retrySafe reports whether every draft has an id: then an append that
// failed as unavailable may be retried (the log dedups it), as a client's
// retry would be.
func retrySafe(ds []messages.Draft) bool {
	for _, d := range ds {
		if d.ID == "" {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seqsOf(evs []messages.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// appendRetrying appends after the current head, retrying conflicts.
func appendRetrying(ctx context.Context, l Log, org string, ds []messages.Draft) (Appended, error) {
	for {
		h, err := l.Head(ctx, org)
		if err != nil {
			return Appended{}, err
		}
		res, err := l.Append(ctx, org, h, ds)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return res, err
	}
}

func equalU(a, b []uint64) bool { return slices.Equal(a, b) }

// samePartition is an org named prefix… that l puts in org's partition.
func samePartition(l *JetStreamLog, org, prefix string) string {
	for i := 0; ; i++ {
		o := prefix
		if i > 0 {
			o += "-" + strconv.Itoa(i)
		}
		if o != org && l.part(o) == l.part(org) {
			return o
		}
	}
}
