package soak

import (
	"sync"

	"github.com/orgstream/orgstream/bench"
)

// nodes is the clients' view of the cluster: each node's current base URL
// and PID. A killed node keeps its old URL (its clients get refused
// connections, as they would in production) until its restart publishes
// the new one. Safe for concurrent use.
type nodes struct {
	c    *bench.Cluster
	mu   sync.RWMutex
	urls []string
	pids []int
}

func newNodes(c *bench.Cluster) *nodes {
	n := &nodes{c: c, urls: make([]string, len(c.Daemons)), pids: make([]int, len(c.Daemons))}
	for i := range c.Daemons {
		n.refresh(i)
	}
	return n
}

// refresh reads node i's URL and PID after a (re)start. Only the nemesis
// goroutine calls it, the one that restarts daemons.
func (n *nodes) refresh(i int) {
	d := n.c.Daemons[i]
	n.mu.Lock()
	n.urls[i], n.pids[i] = d.URL, d.PID
	n.mu.Unlock()
}

func (n *nodes) count() int { return len(n.urls) }

func (n *nodes) url(i int) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.urls[i]
}

func (n *nodes) pid(i int) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.pids[i]
}

func (n *nodes) name(i int) string { return n.c.Daemons[i].Name }
