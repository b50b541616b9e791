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
	// Client is the client's name and version as it sent them (query
	// "client"), empty when it did not; only metrics use it.
	Client string
	// SSE is set when the stream is Server-Sent Events, not a WebSocket.
	SSE *SSEStream
}

// SSEStream is what a Server-Sent Events stream needs beyond a Stream: the
// transport checked the request and took the connection over; the hub
// answers it, with Head and the stream once it accepts it, or with Refusal
// when a limit or a drain refuses it.
type SSEStream struct {
	// Gzip is true when the client accepts Content-Encoding gzip (Head
	// then announces it).
	Gzip bool
	// Head is the HTTP response head of an accepted stream, status line to
	// empty line.
	Head []byte
	// Retry is the reconnection delay the stream tells the client first
	// (retry:), jittered per connection.
	Retry time.Duration
	// Refusal returns the whole HTTP response that refuses the stream with
	// status and the JSON error body {"error": msg, "code": code}.
	Refusal func(status int, code, msg string) []byte
}

// Encoding is the form of the shared frames the stream reads.
func (s *Stream) Encoding() Encoding {
	switch {
	case s.SSE == nil:
		return WSEncoding(s.Deflate)
	case s.SSE.Gzip:
		return EncSSEGzip
	}
	return EncSSE
}
