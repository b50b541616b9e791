package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
)

// floorRig is the floor's sockets: n loopback TCP connections, the
// writing ends (accepted, as the daemon's are) with a prebuilt write
// function each, and the reading ends drained by one goroutine each that
// counts the bytes and discards them. It has no protocol logic at all.
type floorRig struct {
	frame []byte
	conns []*floorConn
	// calls and blocked count write(2) calls and those that returned
	// EAGAIN (the writer then waited for the socket); written only by the
	// writing goroutine.
	calls, blocked int64

	wg        sync.WaitGroup
	drained   []int64 // per connection, set by its drain goroutine at EOF
	drainErrs []error
}

// floorConn is one writing end.
type floorConn struct {
	tcp   *net.TCPConn
	rc    syscall.RawConn
	peer  net.Conn // the reading end
	write func(fd uintptr) bool
	off   int   // bytes of the frame in progress already written
	sent  int64 // whole frames written
	err   error
}

// newFloorRig opens n connections to a listener of its own on 127.0.0.1,
// from the source addresses of makeDialers(srcAddrs), and starts the
// drains. Each dial is accepted before the next, so the accepted socket is
// paired with its dial (checked by address). close must be called.
func newFloorRig(ctx context.Context, n, srcAddrs int, frame []byte) (*floorRig, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: floor: listen: %w", err)
	}
	defer func() { _ = ln.Close() }()
	dialers := makeDialers("127.0.0.1", srcAddrs, DefaultDialTimeout)
	g := &floorRig{frame: frame, drained: make([]int64, n), drainErrs: make([]error, n)}
	for i := range n {
		if err := ctx.Err(); err != nil {
			g.close()
			return nil, err
		}
		c, err := g.open(ctx, ln, dialers[i%len(dialers)])
		if err != nil {
			g.close()
			return nil, fmt.Errorf("bench: floor: connection %d of %d: %w", i+1, n, err)
		}
		g.conns = append(g.conns, c)
		g.wg.Add(1)
		go g.drain(i, c.peer)
	}
	return g, nil
}

// errFloorPair: an accepted connection that is not the one just dialed.
var errFloorPair = errors.New("accepted connection is not the one dialed")

func (g *floorRig) open(ctx context.Context, ln net.Listener, d *net.Dialer) (*floorConn, error) {
	peer, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	nc, err := ln.Accept()
	if err != nil {
		_ = peer.Close()
		return nil, err
	}
	tcp := nc.(*net.TCPConn)
	if nc.RemoteAddr().String() != peer.LocalAddr().String() {
		_ = nc.Close()
		_ = peer.Close()
		return nil, fmt.Errorf("%w: %s, dialed from %s", errFloorPair, nc.RemoteAddr(), peer.LocalAddr())
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		_ = nc.Close()
		_ = peer.Close()
		return nil, err
	}
	c := &floorConn{tcp: tcp, rc: rc, peer: peer}
	c.write = g.writeFunc(c)
	return c, nil
}

// writeFunc is c's function for RawConn.Write, built once so that a write
// allocates nothing: one write(2) of what is left of the frame; true when
// the frame is out (or the socket failed), false on EAGAIN, which has
// RawConn.Write wait in the netpoller until the socket is writable and
// call it again. A short write is continued at once, as net.Conn.Write
// does.
func (g *floorRig) writeFunc(c *floorConn) func(fd uintptr) bool {
	return func(fd uintptr) bool {
		for {
			n, err := syscall.Write(int(fd), g.frame[c.off:])
			g.calls++
			if n > 0 {
				c.off += n
			}
			switch {
			case c.off == len(g.frame):
				c.off = 0
				c.sent++
				return true
			case err == syscall.EAGAIN:
				g.blocked++
				return false
			case err == syscall.EINTR:
			case err != nil:
				c.err = err
				return true
			}
		}
	}
}

// writeOne writes the frame to connection i, waiting while its socket is
// full.
func (g *floorRig) writeOne(i int) error {
	c := g.conns[i]
	if err := c.rc.Write(c.write); err != nil {
		return fmt.Errorf("bench: floor: write: %w", err)
	}
	if c.err != nil {
		return fmt.Errorf("bench: floor: write: %w", c.err)
	}
	return nil
}

// drain reads connection i's reading end until EOF, counting the bytes.
func (g *floorRig) drain(i int, nc net.Conn) {
	defer g.wg.Done()
	buf := make([]byte, 2048)
	var total int64
	for {
		n, err := nc.Read(buf)
		total += int64(n)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				g.drainErrs[i] = err
			}
			break
		}
	}
	g.drained[i] = total
}

// close closes the writing ends (their data is still delivered, then EOF),
// waits for every drain to end, and closes the reading ends.
func (g *floorRig) close() {
	for _, c := range g.conns {
		_ = c.tcp.Close()
	}
	g.wg.Wait()
	for _, c := range g.conns {
		_ = c.peer.Close()
	}
}

// errFloorDrain: the reading ends did not receive what was written.
var errFloorDrain = errors.New("bench: floor: bytes drained differ from bytes written")

// check compares, after close, each connection's bytes drained with its
// frames written, and returns the totals.
func (g *floorRig) check() (written, drained int64, err error) {
	bad := 0
	var first error
	for i, c := range g.conns {
		want := c.sent*int64(len(g.frame)) + int64(c.off)
		written += want
		drained += g.drained[i]
		if g.drained[i] != want || g.drainErrs[i] != nil {
			bad++
			if first == nil {
				first = fmt.Errorf("connection %d: wrote %d bytes, drained %d (read error: %v)", i, want, g.drained[i], g.drainErrs[i])
			}
		}
	}
	if bad > 0 {
		return written, drained, fmt.Errorf("%w: %d of %d connections, first %w", errFloorDrain, bad, len(g.conns), first)
	}
	return written, drained, nil
}
