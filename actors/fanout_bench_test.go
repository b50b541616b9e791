package actors

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/transport/socket"
)

// BenchmarkFanoutPush is the org actor's part of one event for n
// subscribers, without sockets: pushing the shared frame into every
// outbox, on the org actor alone (serial) or split across the hub's pool
// (parallel). One op is one event pushed to every subscriber.
func BenchmarkFanoutPush(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, parallel := range []bool{false, true} {
			name := strconv.Itoa(n) + "subs-serial"
			if parallel {
				name = strconv.Itoa(n) + "subs-parallel"
			}
			b.Run(name, func(b *testing.B) { benchFanoutPush(b, n, parallel) })
		}
	}
}

func benchFanoutPush(b *testing.B, n int, parallel bool) {
	p := newFanout(runtime.GOMAXPROCS(0))
	defer p.stop()
	a := &orgActor{env: &orgEnv{fanout: p}}
	a.runShard = a.pushShard
	frame := make([]byte, 270)
	pushes := make([]orgcore.Push[*subscriber], n)
	for i := range pushes {
		sub := &subscriber{connID: "c" + strconv.Itoa(i), out: socket.NewOutbox(1<<30, nil)}
		pushes[i] = orgcore.Push[*subscriber]{Sub: &coreSub{ID: sub.connID, Conn: sub}, Frame: frame}
	}
	var batch [][]byte
	drain := func() {
		for j := range pushes {
			out := pushes[j].Sub.Conn.out
			batch = out.Take(batch)
			out.Written(len(batch) * len(frame))
		}
	}
	for range 32 { // the outboxes' queues grow once
		pushRange(pushes, &a.kicks, &a.over)
	}
	drain()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if parallel {
			a.pushParallel(pushes, p.workers)
		} else {
			pushRange(pushes, &a.kicks, &a.over)
		}
		a.kicks = a.kicks[:0]
		if i%32 == 31 {
			// As the connections would: take what was queued (not timed).
			b.StopTimer()
			drain()
			b.StartTimer()
		}
	}
}
