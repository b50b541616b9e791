package metrics

import (
	"maps"
	"sync"
)

// Client labels for connections whose client did not name itself, and for
// names past the bound.
const (
	ClientUnknown = "unknown"
	ClientOther   = "other"
)

// maxClientLabels bounds the distinct client names counted: a client names
// itself, so without a bound a loop of made-up names would grow the map and
// the Prometheus series without end. Past it, new names count as "other".
const maxClientLabels = 64

// Clients counts open streams by the client and version that opened them
// (the stream's "client" query parameter, e.g. "orgstream-go/0.2.0"), so an
// operator sees which client versions are still connected before changing
// the wire contract. A name stays once seen (its count may drop to 0), up to
// maxClientLabels names.
type Clients struct {
	mu     sync.Mutex
	counts map[string]int64
}

// Open counts one more stream of client ("" is ClientUnknown) and returns
// the label it was counted under, which Close takes back.
func (c *Clients) Open(client string) string {
	if client == "" {
		client = ClientUnknown
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[string]int64)
	}
	if _, ok := c.counts[client]; !ok && len(c.counts) >= maxClientLabels {
		client = ClientOther
	}
	c.counts[client]++
	return client
}

// Close counts one stream of label (as Open returned it) less.
func (c *Clients) Close(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts[label] > 0 {
		c.counts[label]--
	}
}

// Counts is a copy of the open streams by client label.
func (c *Clients) Counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}
