package actors

import "github.com/orgstream/orgstream/messages"

// PresenceChanged tells org's presence=true streams on this node that user
// went online (its first stream opened somewhere in the cluster) or offline
// (its last one closed). The frame is encoded here once and shared by every
// such stream; the org actor pushes it like its other control frames. An
// org without presence streams on this node costs a map lookup.
func (h *Hub) PresenceChanged(org, user string, online bool) {
	h.mu.Lock()
	e := h.entries[org]
	if e == nil || e.presence == 0 {
		h.mu.Unlock()
		return
	}
	// The entry is held by its presence streams, so its actor is alive
	// (or restarting, its mailbox kept).
	pid := e.pid
	h.mu.Unlock()
	f := messages.EncodePresence(user, online)
	h.sys.Root.Send(pid, &presenceChange{frame: &f})
}
