package actors

import "sync"

// fanout runs the shards of one large flush on a fixed set of worker
// goroutines, owned by the hub: an event for an org of thousands of
// connections is written to their sockets on several cores at once. The org
// actor waits for every shard before its next message, so each org's order
// holds; each subscriber is in exactly one shard.
type fanout struct {
	work    chan fanJob
	workers int
	wg      sync.WaitGroup
	mu      sync.RWMutex
	closed  bool
}

// fanJob is one shard to run: run(shard), then done.Done().
type fanJob struct {
	run   func(shard int)
	shard int
	done  *sync.WaitGroup
}

func newFanout(workers int) *fanout {
	p := &fanout{work: make(chan fanJob, workers), workers: workers}
	p.wg.Add(workers)
	for range workers {
		go func() {
			defer p.wg.Done()
			for j := range p.work {
				j.run(j.shard)
				j.done.Done()
			}
		}()
	}
	return p
}

// run runs shards 0..n-1 of fn, shard 0 on the caller, and returns when all
// are done. After stop it runs them all on the caller.
func (p *fanout) run(n int, fn func(shard int), done *sync.WaitGroup) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		for i := range n {
			fn(i)
		}
		return
	}
	done.Add(n - 1)
	for i := 1; i < n; i++ {
		p.work <- fanJob{run: fn, shard: i, done: done}
	}
	fn(0)
	done.Wait()
}

// stop ends the workers once the runs in progress are done. Safe to call
// twice.
func (p *fanout) stop() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.work)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
