package actors

import (
	"context"
	"testing"
	"time"

	"github.com/orgstream/orgstream/persistence"
)

// A connection silent for two intervals is closed in the next sweep, not
// only in its own ping sweep (which can come up to an interval later). The
// sweeps are called by hand here; the hub's own run every second, but this
// connection's ping sweep is half an hour away, so a silence checked only
// there would not close it during the test.
func TestSilentClosedInAnySweep(t *testing.T) {
	const interval = time.Hour
	h, err := NewHub(Config{Log: persistence.NewMemory(persistence.MemoryConfig{}), PingInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	h.connSeq.Store(1799) // its ping sweep is the 1800th: half an hour away
	c := openStream(t, h)
	defer c.Close()
	readWelcome(t, c)

	conns := h.snapshot(nil)
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	sc := conns[0]
	now := time.Now()
	h.beat(sc, now, false) // heard from just now: nothing happens
	if sc.silenced.Load() {
		t.Fatal("a connection heard from just now was taken for silent")
	}
	sc.lastRead.Store(now.Add(-2*interval - time.Second).UnixNano())
	h.beat(sc, now, false) // not its ping sweep, but silent too long
	expectCloseThenEOF(t, c, CloseGoingAway)
}
