package presence

import "context"

// crash stops t without a clean leave, as kill -9 would: its entries and
// heartbeat stay in the bucket.
func (t *Tracker) crash() {
	t.leave = false
	t.Stop(context.Background())
}

// deafen stops t hearing heartbeats, its own included, as a node cut off
// from NATS would.
func (t *Tracker) deafen() { _ = t.beatSub.Unsubscribe() }
