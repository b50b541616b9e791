package client

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gobwas/ws/wsflate"
)

// limReader reads at most n bytes from r; it is an io.ByteReader so that
// flate reads it without a buffer of its own.
type limReader struct {
	r *bufio.Reader
	n int
}

func (l *limReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

func (l *limReader) ReadByte() (byte, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	b, err := l.r.ReadByte()
	if err == nil {
		l.n--
	}
	return b, err
}

// inflater decompresses one permessage-deflate message. The server
// compresses without context takeover, so no state survives a message and
// every Client shares one pool of them (a flate reader holds a 32 KiB
// window: per connection it would dominate the client's memory).
type inflater struct {
	r   *wsflate.Reader
	lim limReader
	src bytes.Reader
}

var inflaters = sync.Pool{New: func() any {
	z := new(inflater)
	z.r = wsflate.NewReader(&z.src, newFlateReader)
	return z
}}

func getInflater() *inflater { return inflaters.Get().(*inflater) }

func putInflater(z *inflater) {
	z.lim = limReader{}
	z.src.Reset(nil)
	z.r.Reset(&z.src)
	inflaters.Put(z)
}

// flateReader makes compress/flate's reader resettable the way wsflate
// wants, so that a pooled inflater keeps its window.
type flateReader struct{ io.ReadCloser }

func newFlateReader(r io.Reader) wsflate.Decompressor {
	return flateReader{flate.NewReader(r)}
}

func (f flateReader) Reset(r io.Reader) { _ = f.ReadCloser.(flate.Resetter).Reset(r, nil) }

// inflate decompresses the message read from src, appending it to dst;
// more than limit bytes is ErrTooLarge.
func (z *inflater) inflate(dst []byte, src io.Reader, limit int) ([]byte, error) {
	z.r.Reset(src)
	for {
		if len(dst) == cap(dst) {
			grow := max(growStep, min(cap(dst), maxGrowStep))
			dst = append(dst, make([]byte, grow)...)[:len(dst)]
		}
		n, err := z.r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, ErrTooLarge
		}
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("%w: inflate: %w", ErrProtocol, err)
		}
	}
}
