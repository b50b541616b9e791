package actors

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/orgstream/orgstream/transport/socket"
)

// A flush split across the pool writes what the org actor alone would:
// every kicked outbox's frames reach its socket, in order, and the outboxes
// a writer holds (a batch in flight) or that have no direct writes are left
// to their connections, whatever the split.
func TestSendKicksSplitMatchesSerial(t *testing.T) {
	const n = 3*flushSplitMin + 5
	for _, workers := range []int{1, 3} {
		t.Run("workers="+strconv.Itoa(workers), func(t *testing.T) {
			p := newFanout(workers)
			defer p.stop()
			a := &orgActor{env: &orgEnv{fanout: p}}
			a.runShard = a.flushShard
			servers, clients := loopbackPairs(t, n)
			want := map[string]bool{}
			for i := range n {
				sock := servers[i]
				switch i % 10 {
				case 3: // not a socket the outbox can write itself
					sock = nil
				}
				sub := &subscriber{connID: "c" + strconv.Itoa(i), out: socket.NewOutbox(1<<20, sock)}
				if i%10 == 7 { // a batch in flight: its writer flushes
					sub.out.Queue([]byte("x"))
					sub.out.Take(nil)
				}
				for k := range 3 {
					if kick, ok := sub.out.Queue([]byte("frame" + strconv.Itoa(k) + ";")); !ok {
						t.Fatal("queue refused")
					} else if kick {
						a.kicks = append(a.kicks, sub)
					}
				}
				if i%10 == 3 || i%10 == 7 {
					want[sub.connID] = true
				}
			}
			if len(a.kicks) != n {
				t.Fatalf("%d kicked outboxes, want %d", len(a.kicks), n)
			}
			if workers > 1 {
				a.flushParallel(workers)
			} else {
				a.slow = flushRange(a.kicks, a.slow)
			}
			for _, sub := range a.slow {
				if !want[sub.connID] {
					t.Errorf("%s left to its connection, its socket takes writes", sub.connID)
				}
				delete(want, sub.connID)
			}
			for id := range want {
				t.Errorf("%s flushed by the org actor, its connection's writer holds it", id)
			}
			for i, c := range clients {
				if i%10 == 3 || i%10 == 7 {
					continue
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				got := make([]byte, len("frame0;frame1;frame2;"))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, []byte("frame0;frame1;frame2;")) {
					t.Fatalf("client %d read %q (%v)", i, got, err)
				}
			}
		})
	}
}
