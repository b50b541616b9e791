package client

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// wsConn is the WebSocket layer of one connection: it reads whole messages
// (answering pings, reassembling fragments, inflating compressed ones) and
// writes the few control frames a client sends. Only the reader goroutine
// reads; writes are serialized by wmu, so shutdown may run on another
// goroutine.
//
// Frames are read with gobwas/ws's header parsing rules but from the
// bufio.Reader directly (Peek/Discard), because ws.ReadHeader and
// wsutil.Reader allocate per frame: a message that fits in the read buffer
// is handed out in place, without a copy; a bigger one grows msg as its
// bytes arrive.
type wsConn struct {
	nc       net.Conn
	br       *bufio.Reader
	brPooled bool // br came from the handshake (gobwas's pool)
	deflate  bool // permessage-deflate was negotiated

	maxMsg      int
	readTimeout time.Duration

	skip int    // bytes of the message handed out in place, still in br
	msg  []byte // a message that did not fit in br, or inflated
	frag []byte // the fragments of a fragmented message
	ctl  [125]byte

	dmu      sync.Mutex // guards the read deadline against shutdown
	deadline time.Time
	closing  bool // shutdown set a short deadline: keep it

	wmu       sync.Mutex
	wbuf      [6 + 125]byte // header (2), mask (4), payload
	closeSent bool
}

// Timeouts of the connection's ends; not worth a Config field each.
const (
	writeTimeout = 5 * time.Second // one control frame
	closeWait    = 1 * time.Second // the server's answer to our close
	retainBuffer = 32 << 10        // larger msg/frag buffers are dropped after use
	growStep     = 4 << 10         // first allocation of msg/frag
	maxGrowStep  = 1 << 20         // growth per step once large
	rsvMask      = 0x03            // RSV2, RSV3 in ws.Header.Rsv: never set
)

func newWSConn(nc net.Conn, br *bufio.Reader, deflate bool, cfg *Config) *wsConn {
	c := &wsConn{nc: nc, br: br, brPooled: br != nil, deflate: deflate,
		maxMsg: cfg.MaxMessageSize, readTimeout: cfg.ReadTimeout}
	if br == nil {
		c.br = bufio.NewReaderSize(nc, cfg.ReadBufferSize)
	}
	return c
}

// release closes the socket and gives back the pooled buffer. The
// wsConn is not used afterwards.
func (c *wsConn) release() {
	_ = c.nc.Close()
	if c.brPooled {
		c.br.Reset(nil)
		ws.PutReader(c.br)
	}
	c.br, c.msg, c.frag = nil, nil, nil
}

// errConn marks a protocol violation by the server at the WebSocket level.
func errConn(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// touchDeadline pushes the read deadline forward, at most every quarter
// of ReadTimeout (a timer change per frame would cost more than the frame).
func (c *wsConn) touchDeadline() {
	now := time.Now()
	if c.deadline.Sub(now) > c.readTimeout*3/4 {
		return
	}
	c.dmu.Lock()
	if !c.closing {
		c.deadline = now.Add(c.readTimeout)
		_ = c.nc.SetReadDeadline(c.deadline)
	}
	c.dmu.Unlock()
}

// readMessage returns the next data message. Its bytes are valid until the
// next call. A close frame from the server ends it with a *CloseError
// (after the close is answered).
func (c *wsConn) readMessage() ([]byte, error) {
	if c.skip > 0 {
		_, _ = c.br.Discard(c.skip)
		c.skip = 0
	}
	if cap(c.msg) > retainBuffer {
		c.msg = nil
	}
	if cap(c.frag) > retainBuffer {
		c.frag = nil
	}
	fragmented, compressed := false, false
	c.frag = c.frag[:0]
	for {
		c.touchDeadline()
		h, err := c.readHeader()
		if err != nil {
			return nil, err
		}
		if h.Masked {
			return nil, errConn("masked frame")
		}
		if h.Rsv&rsvMask != 0 {
			return nil, errConn("RSV2/RSV3 set")
		}
		if h.OpCode.IsControl() {
			if !h.Fin || h.Length > int64(len(c.ctl)) || h.Rsv != 0 {
				return nil, errConn("bad control frame")
			}
			p := c.ctl[:h.Length]
			if _, err := io.ReadFull(c.br, p); err != nil {
				return nil, err
			}
			switch h.OpCode {
			case ws.OpPing:
				if err := c.writeControl(ws.OpPong, p); err != nil {
					return nil, err
				}
			case ws.OpClose:
				return nil, c.answerClose(p)
			}
			continue
		}
		if h.Length > int64(c.maxMsg) || len(c.frag)+int(h.Length) > c.maxMsg {
			return nil, ErrTooLarge
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if fragmented {
				return nil, errConn("new message inside a fragmented one")
			}
			compressed = h.Rsv1()
			if compressed && !c.deflate {
				return nil, errConn("RSV1 set without permessage-deflate")
			}
			if h.Fin {
				return c.readWhole(int(h.Length), compressed)
			}
			fragmented = true
		case ws.OpContinuation:
			if !fragmented {
				return nil, errConn("continuation frame without a message")
			}
			if h.Rsv1() {
				return nil, errConn("RSV1 set on a continuation frame")
			}
		default:
			return nil, errConn("reserved opcode %d", h.OpCode)
		}
		if c.frag, err = readN(c.frag, c.br, int(h.Length)); err != nil {
			return nil, err
		}
		if !h.Fin {
			continue
		}
		if !compressed {
			return c.frag, nil
		}
		z := getInflater()
		z.src.Reset(c.frag)
		c.msg, err = z.inflate(c.msg[:0], &z.src, c.maxMsg)
		putInflater(z)
		return c.msg, err
	}
}

// readHeader reads a frame header with Peek and Discard (no allocation).
func (c *wsConn) readHeader() (ws.Header, error) {
	var h ws.Header
	b, err := c.br.Peek(2)
	if err != nil {
		return h, err
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n := 2
	length := b[1] & 0x7f
	switch length {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h.Masked {
		n += 4
	}
	if b, err = c.br.Peek(n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, err
	}
	switch length {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		l := binary.BigEndian.Uint64(b[2:10])
		if l > 1<<63-1 {
			return h, ws.ErrHeaderLengthMSB
		}
		h.Length = int64(l)
	default:
		h.Length = int64(length)
	}
	_, _ = c.br.Discard(n)
	return h, nil
}

// readWhole reads the payload of an unfragmented message.
func (c *wsConn) readWhole(n int, compressed bool) ([]byte, error) {
	if compressed {
		z := getInflater()
		z.lim = limReader{r: c.br, n: n}
		var err error
		c.msg, err = z.inflate(c.msg[:0], &z.lim, c.maxMsg)
		rest := z.lim.n
		putInflater(z)
		if err != nil {
			return nil, err
		}
		// Bytes the inflater did not need (a final block before the end).
		if _, err := c.br.Discard(rest); err != nil {
			return nil, err
		}
		return c.msg, nil
	}
	if n <= c.br.Size() {
		p, err := c.br.Peek(n)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		c.skip = n
		return p, nil
	}
	var err error
	c.msg, err = readN(c.msg[:0], c.br, n)
	return c.msg, err
}

// readN appends n bytes from r to dst, growing dst as they arrive (never
// by more than maxGrowStep ahead of them: the length is the peer's word).
func readN(dst []byte, r io.Reader, n int) ([]byte, error) {
	want := len(dst) + n
	for len(dst) < want {
		if len(dst) == cap(dst) {
			grow := min(want-len(dst), max(growStep, min(cap(dst), maxGrowStep)))
			dst = append(dst, make([]byte, grow)...)[:len(dst)]
		}
		m, err := r.Read(dst[len(dst):min(cap(dst), want)])
		dst = dst[:len(dst)+m]
		if err != nil && len(dst) < want {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
	}
	return dst, nil
}

// answerClose answers the server's close frame (echoing its code, unless
// this is the answer to ours) and returns it as a *CloseError.
func (c *wsConn) answerClose(p []byte) error {
	code, reason := ws.ParseCloseFrameData(p)
	if len(p) < 2 {
		code = ws.StatusNoStatusRcvd
	}
	var body [2]byte
	if len(p) >= 2 {
		copy(body[:], p[:2])
		_ = c.writeControl(ws.OpClose, body[:])
	} else {
		_ = c.writeControl(ws.OpClose, nil)
	}
	return &CloseError{Code: int(code), Reason: reason}
}

// writeControl writes one masked control frame (payload at most 125
// bytes). Nothing is written after a close frame.
func (c *wsConn) writeControl(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	if op == ws.OpClose {
		c.closeSent = true
	}
	b := c.wbuf[:0]
	b = append(b, 0x80|byte(op), 0x80|byte(len(p)))
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	b = append(b, p...)
	ws.Cipher(b[6:], mask, 0)
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(b)
	return err
}

// writeClose sends a close frame with code and reason (cut to fit).
func (c *wsConn) writeClose(code int, reason string) error {
	var p [125]byte
	binary.BigEndian.PutUint16(p[:2], uint16(code))
	n := 2 + copy(p[2:], reason)
	return c.writeControl(ws.OpClose, p[:n])
}

// shutdown closes the connection from another goroutine: a close frame
// with code, then the reader gets closeWait for the server's answer.
func (c *wsConn) shutdown(code int) {
	_ = c.writeClose(code, "")
	c.dmu.Lock()
	c.closing = true
	_ = c.nc.SetReadDeadline(time.Now().Add(closeWait))
	c.dmu.Unlock()
}
