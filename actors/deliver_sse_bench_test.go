package actors

import (
	"strconv"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// BenchmarkDeliverSSE compares the cost per delivery of one event to 1,000
// connections that read it as a WebSocket frame, an SSE message, or an SSE
// message in a gzip stream: the same path (org core, outboxes, writev), only
// the shared bytes differ (their SSE forms are built by the first push, once
// per event, inside the timed loop).
func BenchmarkDeliverSSE(b *testing.B) {
	for _, enc := range []messages.Encoding{messages.EncWS, messages.EncSSE, messages.EncSSEGzip} {
		b.Run(enc.String(), func(b *testing.B) { benchDeliver(b, 1000, enc, 0) })
	}
}

// benchStream is the i-th connection of a delivery benchmark, reading enc.
func benchStream(i int, enc messages.Encoding) messages.Stream {
	s := messages.Stream{Org: "bench", User: "u" + strconv.Itoa(i), Expiry: time.Now().Add(time.Hour)}
	switch enc {
	case messages.EncWSDeflate:
		s.Deflate = true
	case messages.EncSSE, messages.EncSSEGzip:
		s.SSE = &messages.SSEStream{
			Gzip:  enc == messages.EncSSEGzip,
			Head:  []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"),
			Retry: time.Second,
		}
	}
	return s
}
