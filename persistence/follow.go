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

// feedRunner is the lifecycle of a follower's goroutine: Stop marks it
// stopped, wakes it, and waits for it to end.
type feedRunner struct {
	stopped atomic.Bool
	done    chan struct{}
	once    sync.Once
}

func newFeedRunner() feedRunner { return feedRunner{done: make(chan struct{})} }

// stop runs wake once and waits for the goroutine.
func (r *feedRunner) stop(wake func()) {
	r.once.Do(func() {
		r.stopped.Store(true)
		wake()
	})
	<-r.done
}
