package persistence

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// BenchmarkFollowMemory measures what a live feed costs per org on the
// embedded server: n followers of n orgs (one stored event each) are
// started, and once every one delivered its event the heap, the goroutine
// stacks and the goroutines they hold are reported per follower. ns/op is
// the start of all n.
func BenchmarkFollowMemory(b *testing.B) {
	const n = 1000
	e := startEmbedded(b, b.TempDir())
	l := openJetStream(b, JetStreamConfig{Conn: connect(b, e)})
	for i := range n {
		mustAppend(b, l, "org"+strconv.Itoa(i), drafts(1, "a")...)
	}
	fs := make([]Follower, n)
	var heap, stack, goroutines float64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		var delivered atomic.Int64
		fn := func(messages.Event) { delivered.Add(1) }
		h0, s0, g0 := memNow()
		b.StartTimer()
		for i := range fs {
			f, err := l.Follow("org"+strconv.Itoa(i), 0, fn)
			if err != nil {
				b.Fatal(err)
			}
			fs[i] = f
		}
		b.StopTimer()
		eventually(b, 30*time.Second, "every follower's event", func() bool { return delivered.Load() == n })
		h1, s1, g1 := memNow()
		heap += float64(h1-h0) / n
		stack += float64(s1-s0) / n
		goroutines += float64(g1-g0) / n
		for _, f := range fs {
			f.Stop()
		}
		b.StartTimer()
	}
	runs := float64(b.N)
	b.ReportMetric(heap/runs, "heap-B/follower")
	b.ReportMetric(stack/runs, "stack-B/follower")
	b.ReportMetric(goroutines/runs, "goroutines/follower")
}

// memNow returns the live heap, the goroutine stacks in use and the
// goroutine count, after a collection and a moment for goroutines that are
// ending to end.
func memNow() (heap, stack int64, goroutines int) {
	time.Sleep(20 * time.Millisecond)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), int64(ms.StackInuse), runtime.NumGoroutine()
}
