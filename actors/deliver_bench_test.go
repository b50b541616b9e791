package actors

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// BenchmarkDeliver measures the org-to-socket path: an org actor takes a
// stored event (already encoded, as the follower hands it over) and its
// connection actors write the shared frame to real loopback sockets. One op
// is one event delivered to every connection; allocs/delivery is the figure
// DESIGN.md's "encode once" and the zero-allocation goal are about.
func BenchmarkDeliver(b *testing.B) {
	for _, conns := range []int{1, 100, 1000} {
		b.Run(strconv.Itoa(conns)+"conns", func(b *testing.B) { benchDeliver(b, conns, messages.EncWS, 0) })
	}
}

// BenchmarkDeliverScoped is BenchmarkDeliver with 10 topic scopes per org
// (PERFORMANCE.md: scoped delivery): connection i receives topics
// "s<i mod 10>.>", the events' topics cycle through the 10, so each event
// is checked against every connection's scope on the shared frame and
// written to a tenth of them. Compare with BenchmarkDeliver at the same
// connections (the check's cost) and at a tenth of them (the same writes).
func BenchmarkDeliverScoped(b *testing.B) {
	for _, conns := range []int{100, 1000} {
		b.Run(strconv.Itoa(conns)+"conns", func(b *testing.B) { benchDeliver(b, conns, messages.EncWS, 10) })
	}
}

// benchDeliver delivers b.N events to conns connections that read enc;
// with scopes > 0, connection i has the topic scope "s<i mod scopes>.>"
// and event k the topic "s<k mod scopes>.orders".
func benchDeliver(b *testing.B, conns int, enc messages.Encoding, scopes int) {
	log := persistence.NewMemory(persistence.MemoryConfig{})
	// b.N events are sent at once: the outbox must hold them all (80 MB for
	// one connection at b.N ≈ 300k), or the connection is cut as slow.
	h, err := NewHub(Config{Log: log, WindowSize: 16, MaxQueueBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()

	var received atomic.Int64 // bytes read by all clients
	servers, clients := loopbackPairs(b, conns)
	for i, cc := range clients {
		sc := servers[i]
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := cc.Read(buf)
				received.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		st := benchStream(i, enc)
		if scopes > 0 {
			st.Scope.Topics = []string{"s" + strconv.Itoa(i%scopes) + ".>"}
		}
		h.Open(sc, st)
	}
	e := h.entries["bench"]
	// Wait for every welcome, so only events remain to count.
	waitBytes := func(min int64) {
		deadline := time.Now().Add(30 * time.Second)
		for received.Load() < min {
			if time.Now().After(deadline) {
				b.Fatalf("received %d bytes, want %d", received.Load(), min)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	waitBytes(int64(conns) * minWelcome(log))
	time.Sleep(100 * time.Millisecond)
	base := received.Load()

	// A 256-byte event, as in the fan-out target.
	data := json.RawMessage(`{"order":42,"status":"shipped","pad":"` + strings.Repeat("x", 200) + `"}`)
	frames := make([]*liveEvent, b.N)
	total := int64(0) // bytes all clients together must read
	readers := int64(conns)
	if scopes > 0 {
		readers = int64(conns / scopes) // conns is a multiple of scopes
	}
	for i := range frames {
		topic := "orders.updated"
		if scopes > 0 {
			topic = "s" + strconv.Itoa(i%scopes) + ".orders"
		}
		ev := messages.Event{Seq: uint64(i + 1), Topic: topic, Time: time.Now(), Data: data}
		f := messages.EncodeEventIn(ev, "e-bench")
		frames[i] = &liveEvent{ev: ev, frame: &f}
		// Measured on a copy: the SSE forms of f are built by its first
		// push, in the timed loop.
		sized := messages.EncodeEventIn(ev, "e-bench")
		total += int64(len(sized.For(enc))) * readers
	}
	b.ReportAllocs()
	b.SetBytes(total / int64(b.N))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range frames {
		h.sys.Root.Send(e.pid, frames[i])
	}
	waitBytes(base + total)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	deliveries := float64(int64(b.N) * readers)
	b.ReportMetric(deliveries/b.Elapsed().Seconds(), "deliveries/s")
	// Process-wide, the clients' reads included: an upper bound.
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/deliveries, "allocs/delivery")
}
