// Package heapcap bounds how far the Go heap may grow past its live data by
// a fixed number of bytes (or an eighth of the live data, if more), on top
// of GOGC's proportional bound.
//
// With GOGC=100 the collector lets the heap reach twice the live data
// before it collects. That is cheap while the live data is small, but a
// node whose live data is mostly large event frames (an org's window at
// --window-bytes, the log's block caches) then holds as much garbage again:
// 1 MiB events doubled the daemon's growth (docs/PERFORMANCE.md, "Large
// events and an org's memory"). A fixed GOMEMLIMIT is no cure: when the live
// data passes it (many orgs, many connections) the collector runs without
// pause. heapcap instead moves the soft memory limit after every collection
// to the memory in use then (live heap plus the runtime's own) plus a fixed
// headroom, so the heap exceeds its live data by at most the headroom, and
// the limit always stays above the live data.
package heapcap

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// pollInterval is how often Run looks for a finished collection. Between
// two looks the limit is the one set after an earlier collection, which is
// at most the headroom above the live data of that moment.
const pollInterval = 50 * time.Millisecond

// The runtime/metrics samples limit reads.
const (
	metricCycles   = "/gc/cycles/total:gc-cycles"
	metricLive     = "/gc/heap/live:bytes"
	metricTotal    = "/memory/classes/total:bytes"
	metricObjects  = "/memory/classes/heap/objects:bytes"
	metricUnused   = "/memory/classes/heap/unused:bytes"
	metricFree     = "/memory/classes/heap/free:bytes"
	metricReleased = "/memory/classes/heap/released:bytes"
)

// Cap moves the process's soft memory limit (runtime/debug.SetMemoryLimit)
// after each collection; Start returns one, Stop ends it and restores the
// limit it found. There is one memory limit per process: start one Cap.
type Cap struct {
	headroom uint64
	ceiling  int64 // the limit found at Start (GOMEMLIMIT, or none)
	samples  []metrics.Sample
	cycles   uint64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start begins bounding the heap to headroom bytes above the memory in use
// after each collection. A limit already set (GOMEMLIMIT) stays the ceiling:
// Cap only ever lowers the limit below it.
func Start(headroom uint64) *Cap {
	c := newCap(headroom)
	go c.run()
	return c
}

func newCap(headroom uint64) *Cap {
	c := &Cap{
		headroom: headroom,
		ceiling:  debug.SetMemoryLimit(-1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, name := range []string{metricCycles, metricLive, metricTotal, metricObjects, metricUnused, metricFree, metricReleased} {
		c.samples = append(c.samples, metrics.Sample{Name: name})
	}
	return c
}

// Stop ends the Cap and restores the limit found at Start. It is safe to
// call more than once.
func (c *Cap) Stop() {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		debug.SetMemoryLimit(c.ceiling)
	})
}

func (c *Cap) run() {
	defer close(c.done)
	c.update()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.update()
		}
	}
}

// update sets the limit from the last collection, once per collection.
func (c *Cap) update() {
	metrics.Read(c.samples)
	cycles := c.samples[0].Value.Uint64()
	if cycles == c.cycles && cycles != 0 {
		return
	}
	c.cycles = cycles
	v := func(i int) uint64 { return c.samples[i].Value.Uint64() }
	// The runtime's own memory (stacks, metadata, buffers) is in the
	// limit too; the heap's free and released pages are not in use.
	runtimeOwn := sat(v(2), v(3)+v(4)+v(5)+v(6))
	debug.SetMemoryLimit(limit(v(1), runtimeOwn, c.headroom, c.ceiling))
}

// liveShare is the least headroom as a share of the live heap (1/8). With
// a large live heap (many orgs, many connections: gigabytes) a fixed
// headroom of tens of MiB would make every collection mark all of it after
// a few allocations, and the collector would take the CPU from delivery;
// an eighth keeps collections as rare as GOGC=12.5 would there, while heaps
// under 8 × the headroom get the fixed bound.
const liveShare = 8

// limit is the soft memory limit after a collection that found live bytes
// of live heap, with runtimeOwn bytes of the runtime's own memory in use: the
// headroom (or an eighth of the live heap, if more) above both, but never
// above ceiling.
func limit(live, runtimeOwn, headroom uint64, ceiling int64) int64 {
	l := live + runtimeOwn + max(headroom, live/liveShare)
	if l < live || l > math.MaxInt64 { // overflow
		return ceiling
	}
	return min(int64(l), ceiling)
}

// sat is a − b, or 0 when b > a.
func sat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
