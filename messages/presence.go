package messages

// Presence states of a presence frame (PROTOCOL.md "Presence").
const (
	PresenceOnline  = "online"
	PresenceOffline = "offline"
)

// PresenceUser is one user of an org's presence with its open streams
// across the cluster.
type PresenceUser struct {
	User        string `json:"user"`
	Connections int    `json:"connections"`
}

// Presence is an org's presence across the cluster, the body of
// GET /v2/realtime/orgs/{org}/presence: every open stream counted once,
// users sorted by id (byte order).
type Presence struct {
	Org         string         `json:"org"`
	Connections int            `json:"connections"`
	Users       []PresenceUser `json:"users"`
}

// EncodePresence builds the presence frame
// {"type":"presence","user":…,"state":"online"|"offline"}. It has no seq
// and is never replayed; the org encodes it once per change and shares it
// among its presence=true streams.
func EncodePresence(user string, online bool) Frame {
	state := PresenceOffline
	if online {
		state = PresenceOnline
	}
	n := len(`{"type":"presence","user":`) + quotedLen(user) +
		len(`,"state":"`) + len(state) + len(`"}`)
	b, hs := newFrame(n)
	b = append(b, `{"type":"presence","user":`...)
	b = appendQuoted(b, user)
	b = append(b, `,"state":"`...)
	b = append(b, state...)
	b = append(b, `"}`...)
	return finishFrame(0, b, hs, n)
}
