package persistence

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Writable: nil on a working store; ErrUnavailable once the stream is gone
// or the server is down. (A leaderless stream after a kill -9 of its leader
// is covered by e2e/TestClusterLeaderKill through /readyz.)
func TestJetStreamWritable(t *testing.T) {
	e := startEmbedded(t, t.TempDir())
	nc := connect(t, e)
	l := openJetStream(t, JetStreamConfig{Conn: nc, RequestTimeout: 300 * time.Millisecond})
	ctx := ctxT(t)
	if err := l.Writable(ctx); err != nil {
		t.Fatalf("Writable on a fresh store: %v", err)
	}

	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(ctx, HeadsStreamName); err != nil {
		t.Fatal(err)
	}
	if err := l.Writable(ctx); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoLeader) {
		t.Fatalf("Writable without the heads stream: %v, want ErrUnavailable (not ErrNoLeader)", err)
	}
	if err := js.DeleteStream(ctx, StreamName); err != nil {
		t.Fatal(err)
	}
	if err := l.Writable(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Writable without the stream: %v, want ErrUnavailable", err)
	}

	e.Shutdown()
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := l.Writable(short); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Writable with the server down: %v, want ErrUnavailable", err)
	}
}
