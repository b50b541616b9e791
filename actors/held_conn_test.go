package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/persistence"
)

// startEmbeddedLog starts an in-process JetStream server without a client
// port; it is shut down at cleanup.
func startEmbeddedLog(t *testing.T) *persistence.Embedded {
	t.Helper()
	e, err := persistence.StartEmbedded(persistence.EmbeddedConfig{DataDir: t.TempDir(), Listen: persistence.ListenOff, NodeName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// heldConn connects to e with a connection that, once cut, stays down
// until release is called (at cleanup at the latest): the tests hold a
// feed or a writer off the log while they change it. release is safe to
// call twice.
func heldConn(t *testing.T, e *persistence.Embedded) (nc *nats.Conn, release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	nc, err := e.Connect(nats.CustomReconnectDelay(func(int) time.Duration { <-gate; return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	t.Cleanup(release) // runs first: a closing connection must not wait on the gate
	return nc, release
}
