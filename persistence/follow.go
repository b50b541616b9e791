package persistence

import (
	"sync"
	"sync/atomic"
	"time"
)

// Shared plumbing of the followers of both logs.

// followReadMax is how many events a follower reads from the log at once.
const followReadMax = 1000

// Backoff of a follower's reads while the store is unavailable.
const (
	followBackoffMin = 20 * time.Millisecond
	followBackoffMax = time.Second
)

// feedTurn serialises a follower's work without a goroutine of its own: a
// node follows thousands of orgs, most of them idle, and a parked goroutine
// per org costs its stack and the scheduler's attention for nothing.
// Whoever has work for the follower takes the turn (a log's dispatcher, an
// Append, the idle check), does what it can, and either gives the turn back
// or hands it to a worker goroutine that runs until nothing is left to do
// and then ends. Only the holder of the turn touches the feed's position
// and calls fn, so fn is called by one goroutine at a time, in order.
//
// Stop marks the feed stopped (no one takes the turn any more, the holder
// sees it before each fn call) and waits until the turn is given back:
// after Stop returns, fn is never called again.
type feedTurn struct {
	mu      sync.Mutex
	busy    bool          // someone holds the turn
	stopped atomic.Bool   // set under mu; read without it before each fn call
	idle    chan struct{} // made by a Stop that waits; closed when the turn is given back
	cleanup sync.Once
}

// takeLocked takes the turn when it is free and the feed not stopped;
// t.mu is held.
func (t *feedTurn) takeLocked() bool {
	if t.busy || t.stopped.Load() {
		return false
	}
	t.busy = true
	return true
}

// releaseLocked gives the turn back; t.mu is held.
func (t *feedTurn) releaseLocked() {
	t.busy = false
	if t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// stop marks the feed stopped, runs release once (it must wake a holder
// that waits on the store), and waits until the turn is given back.
func (t *feedTurn) stop(release func()) {
	t.mu.Lock()
	t.stopped.Store(true)
	var wait chan struct{}
	if t.busy {
		if t.idle == nil {
			t.idle = make(chan struct{})
		}
		wait = t.idle
	}
	t.mu.Unlock()
	t.cleanup.Do(release)
	if wait != nil {
		<-wait
	}
}

// halt marks the feed stopped and runs release once, without waiting for
// the turn: for one who does not hold it and must not wait (the idle check
// that finds the feed lost).
func (t *feedTurn) halt(release func()) {
	t.mu.Lock()
	t.stopped.Store(true)
	t.mu.Unlock()
	t.cleanup.Do(release)
}

// end marks the feed stopped from inside, by the holder of the turn (the
// log was closed, or the feed lost): it gives the turn back and runs
// release once.
func (t *feedTurn) end(release func()) {
	t.mu.Lock()
	t.stopped.Store(true)
	t.releaseLocked()
	t.mu.Unlock()
	t.cleanup.Do(release)
}
