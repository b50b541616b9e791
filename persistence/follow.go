package persistence

import (
	"bytes"
	"runtime"
	"strconv"
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
// stopped, wakes it, and waits for it to end unless called from it (from
// inside fn), where waiting would deadlock.
type feedRunner struct {
	stopped atomic.Bool
	gid     atomic.Uint64 // the feed goroutine's id, set when it starts
	done    chan struct{}
	once    sync.Once
}

func newFeedRunner() feedRunner { return feedRunner{done: make(chan struct{})} }

// started is called first thing on the feed goroutine.
func (r *feedRunner) started() { r.gid.Store(goid()) }

// stop runs wake once and waits for the goroutine unless called from it.
func (r *feedRunner) stop(wake func()) {
	r.once.Do(func() {
		r.stopped.Store(true)
		wake()
	})
	if goid() != r.gid.Load() {
		<-r.done
	}
}

// goid is the current goroutine's id, parsed from its stack header
// ("goroutine 17 [running]:"). Only Stop uses it, to not wait on itself.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
