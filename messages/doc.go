// Package messages holds the values that orgstream's parts exchange and the
// wire frames of PROTOCOL.md: events, publish bodies, and the encoded
// WebSocket frames (welcome, event, reset) that the org actor builds once and
// every connection writes.
//
// It has no behaviour beyond parsing, validating and encoding. Every value is
// immutable once built and safe to share between goroutines; every function
// is safe for concurrent use.
//
// Publish bodies (see ParsePublish for the exact rules):
//
//	p, err := messages.ParsePublish(body) // body may be reused afterwards
//	var me *messages.Error
//	if errors.As(err, &me) {
//		// 400 {"error": me.Message, "code": me.Code}
//	}
//
// Frames: EncodeEvent, EncodeWelcome and EncodeReset return a Frame whose
// Plain field is a complete server-to-client WebSocket text frame (FIN,
// unmasked, header and JSON payload in one slice), and, when the payload is
// over DeflateThreshold, whose Deflated field is the same message compressed
// with permessage-deflate without context takeover (RSV1 set), so one
// compressed frame serves every client that negotiated the extension:
//
//	f := messages.EncodeEvent(ev)
//	conn.Write(f.For(messages.WSEncoding(negotiatedDeflate))) // never modify the bytes
//
// The same Frame serves Server-Sent Events streams: For(EncSSE) is the
// frame's JSON as one SSE message (id: <epoch>:<seq> for events, from
// EncodeEventIn), For(EncSSEGzip) that message as a raw-deflate block of its
// own for gzip streams (GzipHeader first, GzipStream's trailer last). Both
// are built by the first caller that needs them, from any goroutine, and
// shared from then on.
//
// The JSON has "type" first and exactly the fields of PROTOCOL.md; ts is
// RFC 3339 UTC with six fractional digits; data is written byte for byte.
// EncodeEvent allocates the frame slices only.
package messages
