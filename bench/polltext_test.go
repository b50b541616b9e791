package bench

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollTextNoAlloc keeps the per-frame work of both fleets' readers
// free of allocations: parse, seq check, latency record.
func TestPollTextNoAlloc(t *testing.T) {
	f := &fleet{conns: []*streamConn{{}}, goals: make([]atomic.Uint64, 1)}
	f.hist.Store(NewShardedHistogram(1))
	seq := uint64(0)
	ev := func() []byte {
		return fmt.Appendf(nil, `{"type":"event","seq":%d,"topic":"bench","data":{"t":%d,"pad":"xxxx"}}`, seq+1, time.Now().UnixNano())
	}
	frames := make([][]byte, 200)
	for i := range frames {
		frames[i] = ev()
		seq++
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		if err := f.pollText(nil, 0, frames[i]); err != nil {
			t.Fatal(err)
		}
		i++
	}); n != 0 {
		t.Errorf("orgstream event: %v allocations per frame", n)
	}
	if c := f.conns[0]; !c.track.Clean() || c.events.Load() == 0 {
		t.Errorf("tracker %+v after %d events", c.track, c.events.Load())
	}

	cf := &centFleet{conns: []*centConn{{}}}
	cf.hist.Store(NewShardedHistogram(1))
	pub := fmt.Appendf(nil, `{"push":{"channel":"org0","pub":{"data":{"t":%d,"pad":"xx"}}}}`+"\n"+
		`{"push":{"channel":"org0","pub":{"data":{"t":%d,"pad":"xx"}}}}`, time.Now().UnixNano(), time.Now().UnixNano())
	if n := testing.AllocsPerRun(100, func() {
		if err := cf.pollText(nil, 0, pub); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("centrifugo publications: %v allocations per frame", n)
	}
	if got := cf.conns[0].events.Load(); got != 202 { // AllocsPerRun runs once more to warm up
		t.Errorf("%d publications counted, want 202", got)
	}
}
