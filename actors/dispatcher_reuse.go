package actors

import (
	"sync"
	"time"
)

// reuseDispatcher runs the org actors' and writers' mailboxes on goroutines
// it keeps. protoactor's default dispatcher starts a goroutine per mailbox
// run: on the publish path that is two per publish (the writer's run, then
// the org actor's for the appended notice), each starting small and growing
// its stack in the append (runtime.newproc and copystack were about 4% of a
// single publish's CPU). Here a run goes to an idle goroutine when one is
// waiting, else to a new one; after a run a goroutine waits reuseIdle for
// the next before it ends.
//
// A run is never queued behind a busy goroutine: a writer blocks in its
// append for up to the publish timeout, and a pool of fixed size would make
// the other orgs' publishes wait behind it. The handoff is unbuffered, so it
// only succeeds into a goroutine that is idle right now.
type reuseDispatcher struct {
	handoff    chan func()
	throughput int
	quit       chan struct{}

	mu     sync.RWMutex // guards closed and wg.Add against stop
	closed bool
	wg     sync.WaitGroup
}

// reuseIdle is how long an idle goroutine waits for a run before it ends.
const reuseIdle = 5 * time.Second

func newReuseDispatcher(throughput int) *reuseDispatcher {
	return &reuseDispatcher{handoff: make(chan func()), throughput: throughput, quit: make(chan struct{})}
}

// Schedule runs fn on an idle goroutine or a new one; it never blocks.
func (d *reuseDispatcher) Schedule(fn func()) {
	select {
	case d.handoff <- fn:
		return
	default:
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		go fn()
		return
	}
	d.wg.Add(1)
	go d.run(fn)
}

// run runs fn, then each run handed to it, until it idles reuseIdle or the
// dispatcher stops.
func (d *reuseDispatcher) run(fn func()) {
	defer d.wg.Done()
	t := time.NewTimer(reuseIdle)
	defer t.Stop()
	for {
		fn()
		t.Reset(reuseIdle)
		select {
		case fn = <-d.handoff:
		case <-t.C:
			return
		case <-d.quit:
			return
		}
	}
}

func (d *reuseDispatcher) Throughput() int { return d.throughput }

// stop ends the idle goroutines and waits for the busy ones to finish their
// runs; later runs get a goroutine each. Safe to call twice.
func (d *reuseDispatcher) stop() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.quit)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
