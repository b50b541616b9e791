package transport

import (
	"net"
)

// prefixConn is a net.Conn whose first reads return bytes that were read
// from the underlying conn before it was handed on (a request head peeked
// for routing, or frames a client sent right behind its handshake).
//
// Reads are not safe for concurrent use (as with any net.Conn reader, one
// goroutine reads); writes and the rest go straight to Conn.
type prefixConn struct {
	net.Conn
	pending []byte
}

// withPrefix returns conn itself when prefix is empty, else a prefixConn
// that owns a copy of prefix.
func withPrefix(conn net.Conn, prefix []byte) net.Conn {
	if len(prefix) == 0 {
		return conn
	}
	return &prefixConn{Conn: conn, pending: append([]byte(nil), prefix...)}
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// unwrapDrained returns the underlying conn of a prefixConn whose prefix has
// been read, so that a raw *net.TCPConn reaches Streams when possible.
func unwrapDrained(conn net.Conn) net.Conn {
	for {
		pc, ok := conn.(*prefixConn)
		if !ok || len(pc.pending) > 0 {
			return conn
		}
		conn = pc.Conn
	}
}
