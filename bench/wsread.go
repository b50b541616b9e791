package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxServerFrame bounds a frame from the server (events are at most about
// 1 MiB, the publish body limit).
const maxServerFrame = 16 << 20

// Opcodes of RFC 6455 the harness handles.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// ErrProtocol is a WebSocket frame the harness refuses (fragmented,
// masked, oversized or compressed).
var ErrProtocol = errors.New("bench: websocket protocol error")

// frameHeader is a WebSocket frame header from the server.
type frameHeader struct {
	op     byte
	fin    bool
	rsv    byte
	masked bool
	length int64
}

// readFrameHeader reads one frame header from r without allocating.
func readFrameHeader(r *bufio.Reader) (frameHeader, error) {
	b, err := r.Peek(2)
	if err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{
		fin:    b[0]&0x80 != 0,
		rsv:    (b[0] >> 4) & 0x7,
		op:     b[0] & 0x0f,
		masked: b[1]&0x80 != 0,
	}
	need := 2
	l := int64(b[1] & 0x7f)
	switch l {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if h.masked {
		need += 4
	}
	if b, err = r.Peek(need); err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			err = io.ErrUnexpectedEOF
		}
		return frameHeader{}, err
	}
	switch l {
	case 126:
		l = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		if u > 1<<62 {
			return frameHeader{}, fmt.Errorf("%w: frame length %d", ErrProtocol, u)
		}
		l = int64(u)
	}
	h.length = l
	_, _ = r.Discard(need)
	return h, nil
}

// readPayload reads h's payload into buf (grown if needed) and returns it.
// The server's frames are unmasked; a masked one is an error.
func readPayload(r *bufio.Reader, h frameHeader, buf []byte) ([]byte, error) {
	if h.masked {
		return buf, fmt.Errorf("%w: masked frame from the server", ErrProtocol)
	}
	if h.length > maxServerFrame {
		return buf, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, h.length)
	}
	n := int(h.length)
	if cap(buf) < n {
		buf = make([]byte, n, max(n, 2*cap(buf)))
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, err
	}
	return buf, nil
}

// closeCode reads the status code of a close frame's payload (1005 when
// it has none).
func closeCode(payload []byte) int {
	if len(payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(payload))
}

// parseFrameHeader decodes the frame header at the start of b. n is the
// header's length, 0 when b does not hold the whole header yet.
func parseFrameHeader(b []byte) (h frameHeader, n int, err error) {
	if len(b) < 2 {
		return frameHeader{}, 0, nil
	}
	h = frameHeader{
		fin:    b[0]&0x80 != 0,
		rsv:    (b[0] >> 4) & 0x7,
		op:     b[0] & 0x0f,
		masked: b[1]&0x80 != 0,
	}
	n = 2
	l := int64(b[1] & 0x7f)
	switch l {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h.masked {
		n += 4
	}
	if len(b) < n {
		return frameHeader{}, 0, nil
	}
	switch l {
	case 126:
		l = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		if u > 1<<62 {
			return frameHeader{}, 0, fmt.Errorf("%w: frame length %d", ErrProtocol, u)
		}
		l = int64(u)
	}
	h.length = l
	return h, n, nil
}
