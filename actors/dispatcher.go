package actors

import (
	"runtime"
	"sync"
)

// poolDispatcher runs connection actors' mailboxes on a fixed set of worker
// goroutines instead of a new goroutine per mailbox run. Under fan-out a
// node schedules one flush per connection per event; with a goroutine each,
// thousands sit runnable at once, each growing a fresh stack, and every
// other goroutine (publishes, NATS acks) waits behind them.
//
// A worker blocked in a write to a slow socket is bounded by the write
// timeout; when the queue is full, Schedule falls back to a goroutine, so
// the org actor that schedules never blocks.
type poolDispatcher struct {
	work       chan func()
	throughput int
	wg         sync.WaitGroup
	mu         sync.RWMutex
	closed     bool
}

func newPoolDispatcher(workers, queue, throughput int) *poolDispatcher {
	d := &poolDispatcher{work: make(chan func(), queue), throughput: throughput}
	d.wg.Add(workers)
	for range workers {
		go d.run()
	}
	return d
}

func (d *poolDispatcher) run() {
	defer d.wg.Done()
	for fn := range d.work {
		fn()
		// A busy worker would otherwise keep its P for a whole 10 ms time
		// slice while the goroutines of a publish (HTTP, the writer, NATS)
		// wait behind it at every hop.
		runtime.Gosched()
	}
}

// Schedule queues a mailbox run; it never blocks.
func (d *poolDispatcher) Schedule(fn func()) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		go fn()
		return
	}
	select {
	case d.work <- fn:
	default:
		go fn()
	}
}

func (d *poolDispatcher) Throughput() int { return d.throughput }

// stop ends the workers once the queued runs are done. Safe to call twice.
func (d *poolDispatcher) stop() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.work)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
