package messages

// Encoding is how a connection reads frames: which of a Frame's shared
// forms it is written (Frame.For). Each form is built at most once per frame
// and node, whatever the number of connections that read it.
type Encoding uint8

const (
	// EncWS is a WebSocket without permessage-deflate: Frame.Plain.
	EncWS Encoding = iota
	// EncWSDeflate is a WebSocket that negotiated permessage-deflate:
	// Frame.Deflated above DeflateThreshold, Frame.Plain below.
	EncWSDeflate
	// EncSSE is a Server-Sent Events stream without compression: the
	// frame's JSON as one SSE message (SSE), built on first use.
	EncSSE
	// EncSSEGzip is a Server-Sent Events stream with Content-Encoding gzip:
	// the SSE message as a raw-deflate block of its own, ended with a sync
	// flush (SSEGzip), built on first use.
	EncSSEGzip
)

// SSE reports whether e is a Server-Sent Events encoding.
func (e Encoding) SSE() bool { return e == EncSSE || e == EncSSEGzip }

// String names e for logs.
func (e Encoding) String() string {
	switch e {
	case EncWS:
		return "ws"
	case EncWSDeflate:
		return "ws-deflate"
	case EncSSE:
		return "sse"
	case EncSSEGzip:
		return "sse-gzip"
	}
	return "unknown"
}

// For returns the bytes of f to write to a connection that reads enc. The
// WebSocket forms were built with the frame; the SSE forms are built by the
// first caller that needs them (any goroutine: the org actor, a replay) and
// shared from then on.
func (f *Frame) For(enc Encoding) []byte {
	switch enc {
	case EncWSDeflate:
		if f.Deflated != nil {
			return f.Deflated
		}
	case EncSSE:
		return f.SSE()
	case EncSSEGzip:
		return f.SSEGzip().Block
	}
	return f.Plain
}

// WSEncoding is the encoding of a WebSocket that did (deflate) or did not
// negotiate permessage-deflate.
func WSEncoding(deflate bool) Encoding {
	if deflate {
		return EncWSDeflate
	}
	return EncWS
}
