package testkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// RawClient is a frame-level WebSocket client (github.com/gobwas/ws) for
// what a well-behaved library will not do: inspect RSV1 of each frame, send
// data or oversized frames, never answer pings. It answers nothing by itself.
type RawClient struct {
	Conn net.Conn
	r    io.Reader
	// Deflate is true when permessage-deflate was negotiated.
	Deflate bool
	// Handshake is the handshake's outcome.
	Handshake ws.Handshake
}

// RawDial opens a stream at u (ws://…) with extra request headers (may be
// nil), offering permessage-deflate (no context takeover either way) when
// deflate is true. Safe from any goroutine.
func RawDial(ctx context.Context, u string, header http.Header, deflate bool) (*RawClient, error) {
	return RawDialer{Header: header, Deflate: deflate}.Dial(ctx, u)
}

// RawDialer configures a RawClient's connection.
type RawDialer struct {
	// Header holds extra request headers (may be nil).
	Header http.Header
	// Deflate offers permessage-deflate (no context takeover either way).
	Deflate bool
	// RecvBuffer, if not zero, sets the socket's SO_RCVBUF before it
	// connects: a client that stops reading then fills its kernel buffers
	// after a few KiB instead of several MiB.
	RecvBuffer int
}

// Dial opens a stream at u (ws://…). Safe from any goroutine.
func (rd RawDialer) Dial(ctx context.Context, u string) (*RawClient, error) {
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(rd.Header)}
	if rd.Deflate {
		p := wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		d.Extensions = []httphead.Option{p.Option()}
	}
	if rd.RecvBuffer > 0 {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rd.RecvBuffer)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		d.NetDial = nd.DialContext
	}
	conn, br, hs, err := d.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	c := &RawClient{Conn: conn, r: conn, Handshake: hs}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	for _, e := range hs.Extensions {
		if string(e.Name) == wsflate.ExtensionName {
			c.Deflate = true
		}
	}
	return c, nil
}

// Close closes the socket.
func (c *RawClient) Close() { _ = c.Conn.Close() }

// RawMessage is one frame from the server, decompressed when it was sent
// compressed.
type RawMessage struct {
	OpCode     ws.OpCode
	Compressed bool // RSV1 was set
	// WireLen is the payload length on the wire (compressed length for a
	// compressed frame).
	WireLen int
	Payload []byte
}

// maxServerFrame bounds what ReadMessage accepts from the server.
const maxServerFrame = 16 << 20

// ReadMessage reads one frame (data or control) before deadline. The server
// does not fragment; a fragment is an error.
func (c *RawClient) ReadMessage(deadline time.Time) (RawMessage, error) {
	_ = c.Conn.SetReadDeadline(deadline)
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return RawMessage{}, err
	}
	if h.Length > maxServerFrame {
		return RawMessage{}, fmt.Errorf("testkit: server frame of %d bytes", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	if _, err := io.ReadFull(c.r, f.Payload); err != nil {
		return RawMessage{}, err
	}
	if !f.Header.Fin {
		return RawMessage{}, errors.New("testkit: fragmented frame from the server")
	}
	if f.Header.Masked {
		return RawMessage{}, errors.New("testkit: masked frame from the server")
	}
	m := RawMessage{OpCode: f.Header.OpCode, Compressed: f.Header.Rsv1(), WireLen: len(f.Payload)}
	if m.Compressed {
		if !c.Deflate {
			return m, errors.New("testkit: RSV1 set without permessage-deflate")
		}
		f, err = wsflate.DecompressFrame(f)
		if err != nil {
			return m, fmt.Errorf("testkit: decompress: %w", err)
		}
	}
	m.Payload = f.Payload
	return m, nil
}

// ReadDataFrame reads frames until a text frame (returned decoded), skipping
// pings (not answered) and pongs. A close frame is an error carrying its
// code (see RawCloseError).
func (c *RawClient) ReadDataFrame(deadline time.Time) (Frame, RawMessage, error) {
	for {
		m, err := c.ReadMessage(deadline)
		if err != nil {
			return Frame{}, m, err
		}
		switch m.OpCode {
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(m.Payload)
			return Frame{}, m, &RawCloseError{Code: int(code), Reason: reason}
		case ws.OpText:
			f, err := DecodeFrame(m.Payload)
			return f, m, err
		default:
			return Frame{}, m, fmt.Errorf("testkit: unexpected opcode %v", m.OpCode)
		}
	}
}

// RawCloseError is a close frame received by a RawClient.
type RawCloseError struct {
	Code   int
	Reason string
}

func (e *RawCloseError) Error() string {
	return fmt.Sprintf("testkit: close %d %q", e.Code, e.Reason)
}

// ReadClose reads frames until a close frame and returns its code; -1 when
// the connection ended without one.
func (c *RawClient) ReadClose(deadline time.Time) (int, error) {
	for {
		_, _, err := c.ReadDataFrame(deadline)
		var ce *RawCloseError
		if errors.As(err, &ce) {
			return ce.Code, nil
		}
		if err != nil {
			return -1, err
		}
	}
}

// WriteFrame writes f masked, as a client must.
func (c *RawClient) WriteFrame(f ws.Frame, deadline time.Time) error {
	_ = c.Conn.SetWriteDeadline(deadline)
	return ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(f))
}
