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
		b.Run(strconv.Itoa(conns)+"conns", func(b *testing.B) { benchDeliverPaced(b, conns, 0) })
	}
}

// BenchmarkDeliverPacedScoped is BenchmarkDeliverPaced with topic scopes
// (PROTOCOL.md "Scoped delivery"): 1,000 connections, each scoped to one of
// 10 topics, events cycling over the 10, so each event reaches 100 of
// them. Set against 1000conns of BenchmarkDeliverPaced (every event to
// every connection) and its 100conns (the same deliveries per event,
// without the 900 connections the filter passes over).
func BenchmarkDeliverPacedScoped(b *testing.B) {
	b.Run("1000conns-10topics", func(b *testing.B) { benchDeliverPaced(b, 1000, 10) })
}

// benchDeliverPaced runs conns connections; with topics > 0 connection i
// is scoped to topic "t<i mod topics>" and event i has topic
// "t<i mod topics>".
func benchDeliverPaced(b *testing.B, conns, topics int) {
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
		st := messages.Stream{Org: "bench", User: "u" + strconv.Itoa(i), Expiry: time.Now().Add(time.Hour)}
		st.Scope.User = st.User
		if topics > 0 {
			st.Scope.Topics = []string{"t" + strconv.Itoa(i%topics)}
		}
		h.Open(sc, st)
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
	wait(int64(conns) * minWelcome(log)) // the welcomes
	time.Sleep(100 * time.Millisecond)
	base := received.Load()
	e := h.entries["bench"]

	data := json.RawMessage(`{"order":42,"status":"shipped","pad":"` + strings.Repeat("x", 200) + `"}`)
	frames := make([]*liveEvent, b.N)
	perEvent := int64(conns)
	for i := range frames {
		topic := "orders.updated"
		if topics > 0 {
			topic, perEvent = "t"+strconv.Itoa(i%topics), int64(conns/topics)
		}
		ev := messages.Event{Seq: uint64(i + 1), Topic: topic, Time: time.Now(), Data: data}
		f := messages.EncodeEvent(ev)
		frames[i] = &liveEvent{ev: ev, frame: &f}
	}
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	total := base
	for i := range frames {
		total += int64(len(frames[i].frame.Plain)) * perEvent
		h.sys.Root.Send(e.pid, frames[i])
		wait(total)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(int64(b.N)*perEvent), "cpu-µs/delivery")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}
