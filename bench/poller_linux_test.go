//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// serverFrame is an unmasked frame from the server.
func serverFrame(t *testing.T, f ws.Frame) []byte {
	t.Helper()
	b, err := ws.CompileFrame(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buffered is a reader holding b in its buffer, as the session's reader
// holds what came past the welcome.
func buffered(t *testing.T, b []byte) *bufio.Reader {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	if _, err := r.Peek(len(b)); err != nil {
		t.Fatal(err)
	}
	return r
}

func eventFrame(t *testing.T, seq uint64) []byte {
	return serverFrame(t, ws.NewTextFrame(fmt.Appendf(nil, `{"type":"event","seq":%d,"topic":"bench","data":{"t":%d,"pad":""}}`, seq, time.Now().UnixNano())))
}

// TestPollerHandOff hands a welcomed stream to a poller over a real
// loopback socket: the frames left over from the welcome, events split
// across writes, a ping (answered with a pong) and the server's close
// (answered, and ending the session with its code).
func TestPollerHandOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := l.Accept()
		if err == nil {
			accepted <- s
		}
		close(accepted)
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	defer func() { _ = srv.Close() }()

	c := &streamConn{nc: nc}
	f := &fleet{conns: []*streamConn{c}, goals: make([]atomic.Uint64, 1)}
	ps, err := startPollers(f.pollSet())
	if err != nil {
		t.Fatal(err)
	}
	defer stopPollers(ps)
	f.pollers = ps

	done, ok := f.handOff(c, nc, buffered(t, append(eventFrame(t, 1), eventFrame(t, 2)[:5]...)), nil)
	if !ok {
		t.Fatal("not handed off")
	}
	// The rest of event 2, then 3 and 4 in one write, 5 byte by byte.
	rest := eventFrame(t, 2)[5:]
	rest = append(rest, eventFrame(t, 3)...)
	rest = append(rest, eventFrame(t, 4)...)
	if _, err := srv.Write(rest); err != nil {
		t.Fatal(err)
	}
	for _, b := range eventFrame(t, 5) {
		if _, err := srv.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := srv.Write(serverFrame(t, ws.NewPingFrame([]byte("hi")))); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(srv)
	_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	pong, err := ws.ReadFrame(r)
	if err != nil {
		t.Fatal(err)
	}
	if pong.Header.OpCode != ws.OpPong || !pong.Header.Masked {
		t.Errorf("answer to a ping: %+v", pong.Header)
	}
	if _, err := srv.Write(serverFrame(t, ws.NewCloseFrame(ws.NewCloseFrameBody(4000, "bye")))); err != nil {
		t.Fatal(err)
	}
	select {
	case end := <-done:
		if end.code != 4000 || end.err != nil {
			t.Errorf("end %+v, want code 4000", end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end")
	}
	cl, err := ws.ReadFrame(r)
	if err != nil || cl.Header.OpCode != ws.OpClose {
		t.Errorf("close reply: %+v, %v", cl.Header, err)
	}
	if got := c.events.Load(); got != 5 || c.track.Last != 5 || !c.track.Clean() {
		t.Errorf("events %d, last %d, tracker %+v; want 1..5 in order", got, c.track.Last, c.track)
	}
	if c.poll.on {
		t.Errorf("fd %d still polled", c.poll.fd)
	}
}

// TestPollerLocalClose ends a polled session from another goroutine, as
// the fleet's stop does.
func TestPollerLocalClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	go func() {
		if s, err := l.Accept(); err == nil {
			defer func() { _ = s.Close() }()
			_, _ = s.Read(make([]byte, 1)) // until the client closes
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &streamConn{nc: nc}
	f := &fleet{conns: []*streamConn{c}, goals: make([]atomic.Uint64, 1)}
	ps, err := startPollers(f.pollSet())
	if err != nil {
		t.Fatal(err)
	}
	defer stopPollers(ps)
	f.pollers = ps
	done, ok := f.handOff(c, nc, buffered(t, nil), nil)
	if !ok {
		t.Fatal("not handed off")
	}
	c.closeConn()
	select {
	case end := <-done:
		if end.code != 0 || end.err != nil {
			t.Errorf("end %+v, want a plain local close", end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end")
	}
}
