package presence

import "context"

// crash stops t without a clean leave, as kill -9 would: its entries and
// heartbeat stay in the bucket.
func (t *Tracker) crash() {
	t.leave = false
	t.Stop(context.Background())
}
