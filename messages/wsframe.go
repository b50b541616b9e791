package messages

import (
	"bytes"
	"io"
	"sync"

	"github.com/gobwas/ws"
	"github.com/klauspost/compress/flate"
)

// newFrame allocates a server text frame (FIN, unmasked) for an n-byte
// payload and writes its header. It returns the buffer holding the header,
// with room for exactly the payload, and the header size.
func newFrame(n int) ([]byte, int) {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(n)}
	return newFrameHeader(h, n)
}

func newFrameHeader(h ws.Header, n int) ([]byte, int) {
	hs := ws.HeaderSize(h)
	// WriteHeaderBuffer encodes into its scratch buffer, which must hold
	// ws.MaxHeaderSize bytes; handing it the frame's own buffer puts the
	// header in place, and io.Discard drops the copy it then writes.
	b := make([]byte, hs+n, max(hs+n, ws.MaxHeaderSize))
	if err := ws.WriteHeaderBuffer(io.Discard, h, b); err != nil {
		panic("messages: frame header: " + err.Error()) // only for lengths over 2^63
	}
	return b[: hs : hs+n], hs
}

// finishFrame checks that the payload has the length the header announced,
// and adds the deflated variant above DeflateThreshold.
func finishFrame(seq uint64, b []byte, hs, n int) Frame {
	if len(b) != hs+n {
		// A length function disagrees with its append function: a bug,
		// and a corrupt stream if written.
		panic("messages: frame payload length does not match its header")
	}
	f := Frame{Seq: seq, Plain: b, sse: new(sseForms)}
	if n > DeflateThreshold {
		f.Deflated = deflateFrame(b[hs:])
	}
	return f
}

// deflateLevel trades CPU for size; the frame is compressed once per node
// and written to every subscriber, so a middle level pays off.
const deflateLevel = 5

// deflater is a pooled compressor with its output buffer.
type deflater struct {
	w   *flate.Writer
	out bytes.Buffer
}

var deflaters = sync.Pool{New: func() any {
	d := new(deflater)
	d.w, _ = flate.NewWriter(&d.out, deflateLevel) // no error for a valid level
	return d
}}

// maxPooledOut bounds the output buffer a pooled deflater keeps.
const maxPooledOut = 256 << 10

// syncMarker ends a sync flush; RFC 7692 section 7.2.1 removes it from the
// message.
var syncMarker = []byte{0, 0, 0xff, 0xff}

// deflateFrame compresses payload as one permessage-deflate message without
// context takeover (a fresh compressor state, so any client can inflate it)
// and frames it with RSV1 set. It returns nil if the compressor fails, or if
// the frame would not be smaller than the plain one (random data): the plain
// frame is valid on a deflate connection too, and the largest frame written
// then never exceeds the plain one (MaxEventFrame).
func deflateFrame(payload []byte) []byte {
	d := deflaters.Get().(*deflater)
	d.out.Reset()
	d.w.Reset(&d.out)
	_, err := d.w.Write(payload)
	if err == nil {
		err = d.w.Flush()
	}
	var frame []byte
	if out := d.out.Bytes(); err == nil && bytes.HasSuffix(out, syncMarker) &&
		len(out)-len(syncMarker) < len(payload) {
		out = out[:len(out)-len(syncMarker)]
		h := ws.Header{
			Fin:    true,
			Rsv:    ws.Rsv(true, false, false),
			OpCode: ws.OpText,
			Length: int64(len(out)),
		}
		b, _ := newFrameHeader(h, len(out))
		frame = append(b, out...)
	}
	if d.out.Cap() <= maxPooledOut {
		deflaters.Put(d)
	}
	return frame
}
