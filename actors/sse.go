package actors

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/orgstream/orgstream/messages"
)

// A Server-Sent Events stream is a connection like a WebSocket: the same
// outbox, the same shared frames (their SSE forms, messages.Frame.For), the
// same limits, heartbeat, drain and cuts. What differs is here: the bytes
// that open it (the HTTP head, the retry field, the gzip header), the ping
// (a comment), and its end, which has no closing handshake: what was queued
// is written, then a comment naming the code, the gzip trailer, and the
// socket closes.

// sseCode* are the codes of the HTTP refusals of an SSE stream that the hub
// decides:
// where a WebSocket would get 4029 or 1001 right after its upgrade, an SSE
// request gets 429 or 503 before anything is streamed.
const (
	sseCodeTooMany  = "too_many_connections"
	sseCodeDraining = "draining"
)

// ssePing is the heartbeat of an SSE stream; gzipPing its shared block.
var (
	ssePing  = messages.SSEComment("ping")
	gzipPing = messages.NewGzipBlock(ssePing)
)

// gzipState is the per-connection part of a compressed SSE stream (the
// blocks are shared). Every push to its outbox goes through push, under mu,
// so the trailer's checksum covers exactly what the outbox took, in the
// outbox's order, whichever goroutine pushes (the org actor, a replay, the
// heartbeat).
type gzipState struct {
	mu sync.Mutex
	s  messages.GzipStream
}

// pushMode is which Outbox method a push uses.
type pushMode uint8

const (
	modeQueue pushMode = iota // Queue: a burst, flushed later
	modePush                  // Push: may be written at once
	modeWait                  // PushWait: a replay, paced by the reader
)

// pushFrame queues a shared frame in sub's outbox, in the form sub's
// encoding reads (see push).
func (sub *subscriber) pushFrame(f *messages.Frame, mode pushMode) (kick, ok bool) {
	if sub.gz == nil {
		return sub.pushMode(f.For(sub.enc), mode)
	}
	g := f.SSEGzip()
	return sub.push(g.Block, &g, mode)
}

// push queues b in sub's outbox; on a compressed SSE stream b is block's
// bytes, and block is folded into the trailer's checksum under the lock, so
// the checksum covers exactly what the outbox took, in its order.
func (sub *subscriber) push(b []byte, block *messages.GzipBlock, mode pushMode) (kick, ok bool) {
	if sub.gz == nil {
		return sub.pushMode(b, mode)
	}
	sub.gz.mu.Lock()
	defer sub.gz.mu.Unlock()
	kick, ok = sub.pushMode(b, mode)
	if ok {
		sub.gz.s.Add(*block)
	}
	return kick, ok
}

func (sub *subscriber) pushMode(b []byte, mode pushMode) (kick, ok bool) {
	switch mode {
	case modePush:
		return sub.out.Push(b)
	case modeWait:
		return sub.out.PushWait(b)
	}
	return sub.out.Queue(b)
}

// sseOpening is what an accepted SSE stream writes first: the response
// head, then (inside the gzip member when compressed) the retry field.
func (c *conn) sseOpening() ([]byte, *messages.GzipBlock) {
	s := c.stream.SSE
	retry := messages.SSERetry(int(s.Retry.Milliseconds()))
	b := append([]byte(nil), s.Head...)
	if c.sub.gz == nil {
		return append(b, retry...), nil
	}
	g := messages.NewGzipBlock(retry)
	b = append(b, messages.GzipHeader...)
	return append(b, g.Block...), &g
}

// sseEnd is what an SSE stream writes after what was queued when it ends:
// a comment with the code and reason (EventSource ignores it; a raw reader
// sees why), and on a compressed stream the gzip trailer. After an
// overflow the outbox dropped queued blocks, so no trailer could be right:
// the body then just stops, as any cut does.
func (c *conn) sseEnd() []byte {
	end := messages.SSEComment("close " + strconv.Itoa(int(c.cs.code)) + " " + c.cs.reason)
	gz := c.sub.gz
	if gz == nil {
		return end
	}
	g := messages.NewGzipBlock(end)
	gz.mu.Lock()
	defer gz.mu.Unlock()
	if c.out.Overflowed() {
		return g.Block
	}
	gz.s.Add(g)
	return append(g.Block, gz.s.Trailer()...)
}

// queuePing puts the heartbeat comment in an SSE stream's outbox, like
// queueControl a WebSocket ping. A replay waiting for room holds the
// stream's gzip lock: that ping is skipped, the stream is busy anyway.
func (c *conn) queuePing(root *actor.RootContext) {
	gz := c.sub.gz
	if gz == nil {
		c.queueControl(root, ssePing)
		return
	}
	if !gz.mu.TryLock() {
		return
	}
	defer gz.mu.Unlock()
	kick, ok := c.out.Push(gzipPing.Block)
	if ok {
		gz.s.Add(gzipPing)
	}
	if ok && kick {
		if pid := c.ref.Load(); pid != nil {
			root.Send(pid, flushMsg)
		}
	}
}

// readSSE reads what an SSE client sends, only to notice its end: a
// browser sends nothing after its request, and anything else is dropped.
func (c *conn) readSSE() (done bool, err error) {
	var buf [512]byte
	if _, err := c.sock.Read(buf[:]); err != nil {
		return true, err
	}
	return false, nil
}

// refuseSSE answers an SSE request the hub refuses with its HTTP refusal,
// then closes the socket once the client had a moment to read it.
func (h *Hub) refuseSSE(sock net.Conn, s *messages.SSEStream, code uint16, reason string) {
	status, errCode := http.StatusServiceUnavailable, sseCodeDraining
	if code == CloseTooManyStreams {
		status, errCode = http.StatusTooManyRequests, sseCodeTooMany
	}
	if s.Refusal != nil {
		_ = sock.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = sock.Write(s.Refusal(status, errCode, reason))
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer sock.Close()
		// Closing with unread input would reset the answer away: half-close,
		// read what the client still sends for a moment, then close.
		if tc, ok := sock.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
			_ = sock.SetReadDeadline(time.Now().Add(h.cfg.CloseLinger))
			_, _ = io.Copy(io.Discard, io.LimitReader(sock, 64<<10))
		}
	}()
}
