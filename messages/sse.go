package messages

import (
	"bytes"
	"hash/crc32"
	"strconv"
	"sync/atomic"
)

// sseForms are a frame's Server-Sent Events forms, built by the first
// connection that reads them (an org with no SSE client never builds them)
// and shared by every later one. The atomics make the build safe from any
// goroutine: two racing builders build the same bytes and one of them wins.
type sseForms struct {
	// epoch is the log's epoch, for the id of an event message.
	epoch string
	plain atomic.Pointer[[]byte]
	gzip  atomic.Pointer[GzipBlock]
}

// GzipBlock is an SSE message compressed on its own: raw deflate blocks
// (RFC 1951) that refer to no earlier data and end byte-aligned with a
// sync flush, so blocks of any messages can follow one another in one
// gzip member. CRC and Size are the message's uncompressed CRC-32 and
// length, which a connection folds into its trailer (GzipStream).
type GzipBlock struct {
	Block []byte
	CRC   uint32
	Size  int
	// shift is crcShift(Size), computed once with the block, so that
	// folding it into a connection's CRC is one multiplication.
	shift uint32
}

// SSE returns the frame as one SSE message:
//
//	id: <epoch>:<seq>      (event frames only)
//	event: <type>          (welcome, event or reset: the JSON's "type")
//	data: <the frame's JSON on one line>
//	<empty line>
//
// JSON allows CR and LF only as whitespace between tokens (inside strings
// they are escaped), so each is written as a space: the data stays on one
// line and means the same JSON.
func (f *Frame) SSE() []byte {
	if f.sse == nil {
		return buildSSE(f, "")
	}
	if p := f.sse.plain.Load(); p != nil {
		return *p
	}
	b := buildSSE(f, f.sse.epoch)
	if f.sse.plain.CompareAndSwap(nil, &b) {
		return b
	}
	return *f.sse.plain.Load()
}

// SSEGzip returns the frame's SSE message as a GzipBlock.
func (f *Frame) SSEGzip() GzipBlock {
	if f.sse == nil {
		return NewGzipBlock(f.SSE())
	}
	if p := f.sse.gzip.Load(); p != nil {
		return *p
	}
	g := NewGzipBlock(f.SSE())
	if f.sse.gzip.CompareAndSwap(nil, &g) {
		return g
	}
	return *f.sse.gzip.Load()
}

// MemBound is the most memory the frame's bytes take once every form of it
// is built: the WebSocket forms, plus the SSE message and its gzip block at
// their bound (storedSize), built yet or not. A replay window counts frames
// at this size, so its byte bound holds whichever encodings its
// connections read. A Frame built by hand keeps no SSE form (they are
// built on every call), so only its WebSocket forms count.
func (f *Frame) MemBound() int {
	n := len(f.Plain) + len(f.Deflated)
	if f.sse == nil {
		return n
	}
	p := wsPayload(f.Plain)
	m := sseSize(p, f.Seq, f.sse.epoch, sseType(p))
	return n + m + storedSize(m)
}

// wsPayload is the payload of a server frame (unmasked) built by newFrame.
func wsPayload(b []byte) []byte {
	if len(b) < 2 {
		return nil
	}
	switch b[1] & 0x7f {
	case 126:
		return b[min(4, len(b)):]
	case 127:
		return b[min(10, len(b)):]
	}
	return b[2:]
}

// sseType is the value of the JSON's leading "type" member, which every
// frame of PROTOCOL.md has first; "message" (the SSE default) otherwise.
func sseType(payload []byte) []byte {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(payload, []byte(prefix)) {
		return []byte("message")
	}
	rest := payload[len(prefix):]
	i := bytes.IndexByte(rest, '"')
	if i <= 0 || bytes.ContainsAny(rest[:i], "\r\n\\") {
		return []byte("message")
	}
	return rest[:i]
}

const (
	sseID    = "id: "
	sseEvent = "event: "
	sseData  = "data: "
)

// sseSize is the length of the SSE message buildSSE makes.
func sseSize(payload []byte, seq uint64, epoch string, typ []byte) int {
	n := len(sseEvent) + len(typ) + 1 + len(sseData) + len(payload) + 2
	if string(typ) == "event" {
		n += len(sseID) + len(epoch) + 1 + uintLen(seq) + 1
	}
	return n
}

func buildSSE(f *Frame, epoch string) []byte {
	p := wsPayload(f.Plain)
	typ := sseType(p)
	b := make([]byte, 0, sseSize(p, f.Seq, epoch, typ))
	if string(typ) == "event" {
		b = append(b, sseID...)
		b = append(b, epoch...)
		b = append(b, ':')
		b = strconv.AppendUint(b, f.Seq, 10)
		b = append(b, '\n')
	}
	b = append(b, sseEvent...)
	b = append(b, typ...)
	b = append(b, '\n')
	b = append(b, sseData...)
	start := len(b)
	b = append(b, p...)
	for i := start; i < len(b); i++ {
		if b[i] == '\n' || b[i] == '\r' {
			b[i] = ' '
		}
	}
	return append(b, '\n', '\n')
}

// SSEComment returns an SSE comment line (ignored by EventSource, seen by
// raw readers) as its own message: ": text\n\n". CR and LF in text become
// spaces.
func SSEComment(text string) []byte {
	b := make([]byte, 0, len(text)+4)
	b = append(b, ':', ' ')
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' || c == '\r' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\n', '\n')
}

// SSERetry returns the "retry: ms" field that sets an EventSource's
// reconnection delay, as a message of its own (no data: nothing is
// dispatched).
func SSERetry(ms int) []byte {
	b := append([]byte("retry: "), strconv.Itoa(ms)...)
	return append(b, '\n', '\n')
}

// storedBlock is the most a stored (uncompressed) deflate block holds.
const storedBlock = 65535

// storedSize is the size of msg as stored deflate blocks (5 bytes of
// header each) ended with an empty one, the most a GzipBlock ever takes.
func storedSize(n int) int { return n + 5*((n+storedBlock-1)/storedBlock) + len(syncBlock) }

// syncBlock is an empty stored block: what a sync flush writes. A reader
// hands out what it decoded only at such a block (Go's compress/flate
// flushes its window there, not at the end of a block with data), so every
// GzipBlock ends with one.
var syncBlock = []byte{0, 0, 0, 0xff, 0xff}

// NewGzipBlock compresses msg on its own (a fresh compressor: no reference
// to earlier data) and ends it with a sync flush. When compression does not
// pay (short or random data) msg is written as stored blocks, so a block
// never exceeds storedSize(len(msg)).
func NewGzipBlock(msg []byte) GzipBlock {
	g := GzipBlock{CRC: crc32.ChecksumIEEE(msg), Size: len(msg), shift: crcShift(uint64(len(msg)))}
	d := deflaters.Get().(*deflater)
	d.out.Reset()
	d.w.Reset(&d.out)
	_, err := d.w.Write(msg)
	if err == nil {
		err = d.w.Flush()
	}
	if out := d.out.Bytes(); err == nil && bytes.HasSuffix(out, syncMarker) && len(out) <= storedSize(len(msg)) {
		g.Block = bytes.Clone(out)
	} else {
		g.Block = appendStored(make([]byte, 0, storedSize(len(msg))), msg)
	}
	if d.out.Cap() <= maxPooledOut {
		deflaters.Put(d)
	}
	return g
}

// appendStored writes msg as non-final stored blocks, then the empty one
// that ends a sync flush.
func appendStored(b, msg []byte) []byte {
	for len(msg) > 0 {
		n := min(len(msg), storedBlock)
		b = append(b, 0, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		b = append(b, msg[:n]...)
		msg = msg[n:]
	}
	return append(b, syncBlock...)
}

// GzipHeader opens the gzip member of a compressed SSE stream: no name, no
// time, OS unknown (RFC 1952).
var GzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// GzipStream is the per-connection part of a compressed SSE stream: the
// CRC-32 and length of what it sent, for the trailer. The blocks
// themselves are shared (GzipBlock). Not safe for concurrent use.
type GzipStream struct {
	crc  uint32
	size uint32 // mod 2^32, as the trailer has it
}

// Add folds a block the connection queued into the trailer's checksum.
func (s *GzipStream) Add(g GzipBlock) {
	s.crc = multModP(g.shift, s.crc) ^ g.CRC
	s.size += uint32(g.Size)
}

// Trailer ends the member: an empty final block, then the CRC-32 and the
// length of everything Add saw (RFC 1952).
func (s *GzipStream) Trailer() []byte {
	c, n := s.crc, s.size
	return []byte{0x03, 0x00,
		byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24),
		byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
}
