package actors

import (
	"context"
	"time"
)

// Drain stops new streams and publishes and closes every open stream with
// 1001, spread over period so that clients do not all reconnect at once
// (sooner if ctx ends). It returns when every connection is gone or ctx
// ends.
func (h *Hub) Drain(ctx context.Context, period time.Duration) error {
	h.mu.Lock()
	if h.closed == nil {
		h.closed = make(chan struct{})
		if len(h.conns) == 0 {
			close(h.closed)
		}
	}
	h.draining = true
	for _, e := range h.entries {
		if e.idle != nil {
			e.idle.Stop()
		}
	}
	done := h.closed
	h.mu.Unlock()

	// Close the i-th of n connections at period*i/n: evenly spread, so that
	// clients reconnect to the other nodes at a steady rate.
	conns := h.snapshot(nil)
	start := time.Now()
	for i := range conns {
		due := start.Add(period * time.Duration(i) / time.Duration(len(conns)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				period = 0 // close the rest at once
			}
		}
		c := conns[i]
		if pid := c.ref.Load(); pid != nil {
			h.sys.Root.Send(pid, &closeConn{code: CloseGoingAway, reason: "draining"})
		} else {
			_ = c.sock.Close() // the reader's end stops it once spawned
		}
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready reports whether the hub takes new streams and publishes.
func (h *Hub) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return ErrDraining
	}
	return nil
}

// Shutdown drains (if Drain was not called), stops every actor and waits for
// the hub's goroutines. Safe to call twice.
func (h *Hub) Shutdown(ctx context.Context) error {
	var err error
	h.shutdown.Do(func() {
		err = h.Drain(ctx, 0)
		// Sockets still open past ctx are closed hard.
		for _, c := range h.snapshot(nil) {
			_ = c.sock.Close()
		}
		h.cancel()
		h.poller.Stop()
		_ = h.sys.Root.StopFuture(h.orgs).Wait()
		done := make(chan struct{})
		go func() { h.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
		h.sys.Shutdown()
		h.connDispatcher.stop()
		h.orgDispatcher.stop()
		h.fanout.stop()
	})
	return err
}
