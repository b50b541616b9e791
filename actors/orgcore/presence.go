package orgcore

import "github.com/orgstream/orgstream/messages"

// Presence pushes f, a presence frame (a user of the org went online or
// offline somewhere in the cluster), to every subscriber that asked for
// presence and was welcomed: it has no seq, so it takes no part in a
// stream's position, and a subscriber not yet welcomed never gets one
// before its welcome. The frame is shared, encoded once per change.
func (c *Core[C]) Presence(f *messages.Frame) *Effects[C] {
	eff := c.begin()
	for _, sub := range c.subs.list {
		if sub.Presence && sub.welcomed {
			eff.push(sub, f, PushControl)
		}
	}
	return eff
}
