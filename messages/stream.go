package messages

import "time"

// Stream is an accepted stream request: authenticated, upgraded, and handed
// from the transport to the actors.
type Stream struct {
	Org  string
	User string
	// Expiry is the token's exp: the stream is closed with 4001 then.
	Expiry time.Time
	// Resume is true when the query had last_seq; LastSeq and Epoch are the
	// client's position then (Epoch may be empty).
	Resume  bool
	LastSeq uint64
	Epoch   string
	// Deflate is true when permessage-deflate was negotiated (no context
	// takeover on the server side).
	Deflate    bool
	RemoteAddr string
	// Scope is what the stream may see: its user, and the topics of its
	// token narrowed by its topics query (PROTOCOL.md "Scoped delivery").
	Scope Scope
	// Presence is true when the query had presence=true: the stream also
	// gets the org's presence frames.
	Presence bool
}
