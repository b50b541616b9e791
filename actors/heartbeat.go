package actors

import (
	"time"
)

// heartbeat is the one goroutine that times every connection: each second
// (or half ping interval, if shorter) it closes streams whose token expired
// (4001) and pings one slice of the connections, each once per ping
// interval, and closes those silent for two intervals. One sweep for all
// connections costs less than a timer or goroutine each. Pinging all of
// them in the same sweep would make a burst every interval (10,000 pings,
// then 10,000 pongs waking the poller at once: a stall of a few hundred ms
// for every delivery queued behind it), so connection i is pinged in the
// sweeps k with k ≡ i (mod sweeps per interval).
func (h *Hub) heartbeat() {
	defer h.wg.Done()
	// A sweep at most half an interval apart keeps pings at most one
	// interval apart: with a coarser sweep a client that answers every
	// ping would look silent for two intervals.
	every := max(time.Millisecond, min(time.Second, h.cfg.PingInterval/2))
	slots := uint64(max(1, h.cfg.PingInterval/every))
	tick := time.NewTicker(every)
	defer tick.Stop()
	var batch []*conn
	for sweep := uint64(1); ; sweep++ {
		select {
		case <-h.ctx.Done():
			return
		case now := <-tick.C:
			batch = h.snapshot(batch[:0])
			for _, c := range batch {
				h.beat(c, now, c.slot%slots == sweep%slots)
			}
			clear(batch)
		}
	}
}

func (h *Hub) beat(c *conn, now time.Time, ping bool) {
	pid := c.ref.Load()
	if pid == nil {
		return // not spawned yet: next sweep
	}
	if !c.stream.Expiry.IsZero() && !now.Before(c.stream.Expiry) && c.expired.CompareAndSwap(false, true) {
		h.sys.Root.Send(pid, &closeConn{code: CloseTokenExpired, reason: "token expired"})
		return
	}
	// Silence is checked in every sweep, not only in the connection's ping
	// sweeps: those fall anywhere in the interval, and checking only there
	// would close a silent client up to three intervals after its last
	// frame instead of two.
	if c.stream.SSE != nil {
		// An SSE client sends nothing to answer with: it is pinged, and a
		// dead one is found by a failed write or the socket's end.
		if ping {
			c.queuePing(h.sys.Root)
		}
		return
	}
	if now.Sub(time.Unix(0, c.lastRead.Load())) > 2*h.cfg.PingInterval {
		if c.silenced.CompareAndSwap(false, true) {
			h.sys.Root.Send(pid, &closeConn{code: CloseGoingAway, reason: "no pong"})
		}
		return
	}
	if ping {
		c.queueControl(h.sys.Root, h.pingFrame)
	}
}

func (h *Hub) snapshot(dst []*conn) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		dst = append(dst, c)
	}
	return dst
}
