package orgcore

import (
	"strconv"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// BenchmarkStoredFanout is one stored event decided for 1000 live
// subscribers: the core's part of a delivery, which must not allocate.
func BenchmarkStoredFanout(b *testing.B) {
	const n = 1000
	subs := NewSubs[int]()
	c := New(Config{Epoch: "e1", WindowSize: 1024, Retention: time.Hour, MaxQueueBytes: 1 << 20}, subs, NewWindow(0, Config{WindowSize: 1024}))
	now := time.Unix(1000, 0)
	for i := range n {
		c.Subscribe(&Sub[int]{ID: "c" + strconv.Itoa(i), Conn: i}, Position{}, now)
	}
	frames := make([]*messages.Frame, 2048)
	for i := range frames {
		frames[i] = eventFrame(uint64(i+1), 256)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		eff := c.Stored(uint64(i+1), now, frames[i%len(frames)])
		if len(eff.Pushes) != n {
			b.Fatalf("%d pushes, want %d", len(eff.Pushes), n)
		}
	}
}

// A stored event fanned out to live subscribers allocates nothing: the
// effects go to the core's reused buffer.
func TestStoredDoesNotAllocate(t *testing.T) {
	subs := NewSubs[int]()
	c := New(Config{Epoch: "e1", WindowSize: 64, Retention: time.Hour, MaxQueueBytes: 1 << 20}, subs, NewWindow(0, Config{WindowSize: 64}))
	now := time.Unix(1000, 0)
	for i := range 100 {
		c.Subscribe(&Sub[int]{ID: "c" + strconv.Itoa(i), Conn: i}, Position{}, now)
	}
	f := eventFrame(1, 256)
	seq := uint64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		if eff := c.Stored(seq, now, f); len(eff.Pushes) != 100 {
			t.Fatalf("%d pushes, want 100", len(eff.Pushes))
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stored event, want 0", allocs)
	}
}
