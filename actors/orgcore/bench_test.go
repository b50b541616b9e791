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
		frames[i] = eventFrame(uint64(i+1), 256, nil)
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
	f := eventFrame(1, 256, nil)
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

// scopedCore is a core with n live subscribers spread over 10 topic scopes
// ("s0.>" … "s9.>"), and frames whose topics cycle through the 10 scopes:
// each event goes to a tenth of the subscribers.
func scopedCore(n, frames int) (*Core[int], []*messages.Frame) {
	subs := NewSubs[int]()
	c := New(Config{Epoch: "e1", WindowSize: 1024, Retention: time.Hour, MaxQueueBytes: 1 << 20}, subs, NewWindow(0, Config{WindowSize: 1024}))
	now := time.Unix(1000, 0)
	for i := range n {
		scope := messages.Scope{User: "u" + strconv.Itoa(i), Topics: []string{"s" + strconv.Itoa(i%10) + ".>"}}
		c.Subscribe(&Sub[int]{ID: "c" + strconv.Itoa(i), Conn: i, Scope: scope}, Position{}, now)
	}
	fs := make([]*messages.Frame, frames)
	for i := range fs {
		fs[i] = eventFrame(uint64(i+1), 256, map[string]string{"topic": "s" + strconv.Itoa(i%10) + ".orders"})
	}
	return c, fs
}

// BenchmarkStoredFanoutScoped is BenchmarkStoredFanout with 10 topic
// scopes: every subscriber's scope is checked against the shared frame's
// topic, a tenth of them get it.
func BenchmarkStoredFanoutScoped(b *testing.B) {
	const n = 1000
	c, frames := scopedCore(n, 2000)
	now := time.Unix(1000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		eff := c.Stored(uint64(i+1), now, frames[i%len(frames)])
		if len(eff.Pushes) != n/10 {
			b.Fatalf("%d pushes, want %d", len(eff.Pushes), n/10)
		}
	}
}

// Scoped subscribers keep a stored event's fan-out free of allocations.
func TestStoredScopedDoesNotAllocate(t *testing.T) {
	c, frames := scopedCore(100, 1000)
	now := time.Unix(1000, 0)
	seq := uint64(0)
	allocs := testing.AllocsPerRun(999, func() {
		seq++
		if eff := c.Stored(seq, now, frames[seq-1]); len(eff.Pushes) != 10 {
			t.Fatalf("%d pushes, want 10", len(eff.Pushes))
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stored event, want 0", allocs)
	}
}
