package actors

import (
	"time"
)

// heartbeat is the one goroutine that times every connection: each second
// (or half ping interval, if shorter) it closes streams whose token expired
// (4001) and, every ping interval, it pings each connection and closes those
// silent for two intervals. One sweep for all connections costs less than a
// timer or goroutine each.
func (h *Hub) heartbeat() {
	defer h.wg.Done()
	// A sweep at most half an interval apart keeps pings at most 1.5
	// intervals apart: with a coarser sweep a client that answers every
	// ping would look silent for two intervals.
	tick := time.NewTicker(max(time.Millisecond, min(time.Second, h.cfg.PingInterval/2)))
	defer tick.Stop()
	nextPing := time.Now().Add(h.cfg.PingInterval)
	var batch []*conn
	for {
		select {
		case <-h.ctx.Done():
			return
		case now := <-tick.C:
			ping := !now.Before(nextPing)
			if ping {
				nextPing = now.Add(h.cfg.PingInterval)
			}
			batch = h.snapshot(batch[:0])
			for _, c := range batch {
				h.beat(c, now, ping)
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
	if !ping {
		return
	}
	if now.Sub(time.Unix(0, c.lastRead.Load())) > 2*h.cfg.PingInterval {
		h.sys.Root.Send(pid, &closeConn{code: CloseGoingAway, reason: "no pong"})
		return
	}
	c.queueControl(h.sys.Root, h.pingFrame)
}

func (h *Hub) snapshot(dst []*conn) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		dst = append(dst, c)
	}
	return dst
}
