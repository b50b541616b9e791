package actors

import (
	"slices"
	"strconv"
	"testing"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/transport/socket"
)

// A fan-out split across the pool delivers exactly what the org actor alone
// would: the same frames in every outbox, the same kicks, the same
// overflows, the same counts.
func TestPushParallelMatchesSerial(t *testing.T) {
	build := func() []orgcore.Push[*subscriber] {
		frame := make([]byte, 100)
		pushes := make([]orgcore.Push[*subscriber], 1001)
		for i := range pushes {
			sub := &subscriber{connID: "c" + strconv.Itoa(i), out: socket.NewOutbox(1<<20, nil)}
			switch i % 10 {
			case 3: // a slow consumer: full, and its socket blocked
				sub.out = socket.NewOutbox(10, nil)
				sub.out.SetBlocked(true)
			case 7: // the client left
				sub.out.Close()
			case 8: // kicked already: no flush to ask for
				sub.out.Queue(frame)
			}
			pushes[i] = orgcore.Push[*subscriber]{Sub: &coreSub{ID: sub.connID, Conn: sub}, Frame: frame, Kind: orgcore.PushLive}
		}
		return pushes
	}
	type result struct {
		kicks, over []string
		live        int
		queued      []int
	}
	collect := func(a *orgActor, pushes []orgcore.Push[*subscriber], live int) result {
		r := result{live: live, over: slices.Clone(a.over)}
		for _, s := range a.kicks {
			r.kicks = append(r.kicks, s.connID)
		}
		for i := range pushes {
			r.queued = append(r.queued, len(pushes[i].Sub.Conn.out.Take(nil)))
		}
		slices.Sort(r.kicks)
		slices.Sort(r.over)
		return r
	}

	serial := &orgActor{}
	sp := build()
	live, _ := pushRange(sp, &serial.kicks, &serial.over)
	want := collect(serial, sp, live)

	p := newFanout(3)
	defer p.stop()
	par := &orgActor{env: &orgEnv{fanout: p}}
	par.runShard = par.pushShard
	pp := build()
	live, _ = par.pushParallel(pp, p.workers)
	got := collect(par, pp, live)

	if want.live != 801 || len(want.over) != 100 || len(want.kicks) != 701 {
		t.Fatalf("serial: live %d over %d kicks %d, want 801 100 701", want.live, len(want.over), len(want.kicks))
	}
	if got.live != want.live || !slices.Equal(got.kicks, want.kicks) || !slices.Equal(got.over, want.over) || !slices.Equal(got.queued, want.queued) {
		t.Fatalf("parallel: live %d kicks %d over %d, serial: live %d kicks %d over %d (or the outboxes differ)",
			got.live, len(got.kicks), len(got.over), want.live, len(want.kicks), len(want.over))
	}
}
