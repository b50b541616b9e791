package actors

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// BenchmarkDeliverPaced is the steady state of the fan-out target: one
// event at a time, the next only once every connection read the last, so
// no burst is batched. One op is one event's fan-out to every connection
// over real loopback sockets (ns/op is its latency); cpu-µs/delivery is
// the process's CPU (user + system, the clients' reads included, so an
// upper bound on the daemon's) per delivery, the figure to set against
// the floor of one write(2).
func BenchmarkDeliverPaced(b *testing.B) {
	for _, conns := range []int{1, 100, 1000} {
		b.Run(strconv.Itoa(conns)+"conns", func(b *testing.B) { benchDeliverPaced(b, conns) })
	}
}

func benchDeliverPaced(b *testing.B, conns int) {
	log := persistence.NewMemory(persistence.MemoryConfig{})
	// Clients here never answer pings: no heartbeat close in a long run.
	h, err := NewHub(Config{Log: log, WindowSize: 16, PingInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	var received, want atomic.Int64
	done := make(chan struct{}, 1)
	servers, clients := loopbackPairs(b, conns)
	for i, cc := range clients {
		sc := servers[i]
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := cc.Read(buf)
				if received.Add(int64(n)) >= want.Load() {
					select {
					case done <- struct{}{}:
					default:
					}
				}
				if err != nil {
					return
				}
			}
		}()
		h.Open(sc, messages.Stream{Org: "bench", User: "u" + strconv.Itoa(i), Expiry: time.Now().Add(time.Hour)})
	}
	wait := func(n int64) {
		want.Store(n)
		timeout := time.After(30 * time.Second)
		for received.Load() < n {
			select {
			case <-done:
			case <-timeout:
				b.Fatalf("received %d bytes, want %d", received.Load(), n)
			case <-time.After(10 * time.Millisecond): // a signal raced the new target
			}
		}
	}
	wait(int64(conns) * 50) // the welcomes
	time.Sleep(100 * time.Millisecond)
	base := received.Load()
	e := h.entries["bench"]

	data := json.RawMessage(`{"order":42,"status":"shipped","pad":"` + strings.Repeat("x", 200) + `"}`)
	frames := make([]*liveEvent, b.N)
	for i := range frames {
		ev := messages.Event{Seq: uint64(i + 1), Topic: "orders.updated", Time: time.Now(), Data: data}
		f := messages.EncodeEvent(ev)
		frames[i] = &liveEvent{ev: ev, frame: &f}
	}
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	total := base
	for i := range frames {
		total += int64(len(frames[i].frame.Plain)) * int64(conns)
		h.sys.Root.Send(e.pid, frames[i])
		wait(total)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*conns), "cpu-µs/delivery")
}
