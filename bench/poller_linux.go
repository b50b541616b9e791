//go:build linux

package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gobwas/ws"
)

// Why a poller: a goroutine per connection blocked in Read costs, per
// received frame, two read(2) calls (the one that returns the frame and the
// one that finds the socket empty), a park and a wake-up; at 100k frames/s
// that is most of the harness's CPU, taken from the daemon it measures.
// Once a stream is welcomed, its socket is handed to one of a few pollers:
// a level-triggered epoll set read by one goroutine, one read(2) of up to
// pollBuf bytes per ready socket, every whole frame in it handled in
// place, a partial frame kept for the next read. The connection's own
// goroutine waits for the end of the session and then reconnects as before.

// pollBuf is a poller's read buffer: many frames per read when a socket
// has fallen behind.
const pollBuf = 64 << 10

// pollWaitMs bounds an epoll_wait, so that a stopped poller notices.
const pollWaitMs = 50

// pollSupported tells whether the fleet can hand streams to pollers.
const pollSupported = true

// pollEnd is how a polled session ended: the server's close code (0 when
// none) and the error (nil for a close frame or a local close).
type pollEnd struct {
	code int
	err  error
}

// pollState is a streamConn's share of the poller, guarded by mu (held by
// the poller while it handles the socket).
type pollState struct {
	mu   sync.Mutex
	on   bool // fd is polled by p
	fd   int
	p    *poller
	pend []byte       // a partial frame left by the last read
	done chan pollEnd // the session's end, sent once
}

// poller is one epoll set and the goroutine reading it.
type poller struct {
	f    *fleet
	epfd int
	buf  []byte
	stop atomic.Bool
	wg   sync.WaitGroup
}

// startPollers starts one poller per CPU for f.
func startPollers(f *fleet) ([]*poller, error) {
	ps := make([]*poller, runtime.GOMAXPROCS(0))
	for i := range ps {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			stopPollers(ps[:i])
			return nil, fmt.Errorf("bench: epoll: %w", err)
		}
		p := &poller{f: f, epfd: epfd, buf: make([]byte, pollBuf)}
		ps[i] = p
		p.wg.Add(1)
		go p.loop()
	}
	return ps, nil
}

// stopPollers stops the pollers; every socket must have been detached.
func stopPollers(ps []*poller) {
	for _, p := range ps {
		p.stop.Store(true)
	}
	for _, p := range ps {
		p.wg.Wait()
		_ = syscall.Close(p.epfd)
	}
}

func (p *poller) loop() {
	defer p.wg.Done()
	events := make([]syscall.EpollEvent, 256)
	for !p.stop.Load() {
		n, err := syscall.EpollWait(p.epfd, events, pollWaitMs)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			c := p.f.conns[ev.Fd]
			c.poll.mu.Lock()
			if c.poll.on && c.poll.p == p {
				p.handle(c)
			}
			c.poll.mu.Unlock()
		}
	}
}

// handOff moves c's welcomed stream from its goroutine to poller p:
// leftover is what the goroutine had read past the welcome. It returns
// false (and leaves nc to the caller) when the stream could not be handed
// off; otherwise nc is closed (the poller owns a duplicate of its socket)
// and the end of the session arrives on the returned channel.
func (p *poller) handOff(c *streamConn, nc net.Conn, leftover []byte) (<-chan pollEnd, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = syscall.Dup(int(s)) }); err != nil || derr != nil {
		return nil, false
	}
	syscall.CloseOnExec(fd)
	done := make(chan pollEnd, 1)
	c.poll.mu.Lock()
	defer c.poll.mu.Unlock()
	c.poll.on, c.poll.fd, c.poll.p, c.poll.done = true, fd, p, done
	c.poll.pend = c.poll.pend[:0]
	c.mu.Lock()
	if c.nc != nc { // closed meanwhile (the fleet is stopping)
		c.mu.Unlock()
		_ = syscall.Close(fd)
		c.poll.on = false
		return nil, false
	}
	c.nc, c.polled = nil, true
	c.mu.Unlock()
	_ = nc.Close() // our duplicate keeps the socket open
	rest, ended := p.frames(c, leftover)
	if ended {
		return done, true
	}
	c.poll.pend = append(c.poll.pend, rest...)
	// Level-triggered: data that came meanwhile is reported at once.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.idx)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.detach(c, 0, fmt.Errorf("bench: epoll add: %w", err))
	}
	return done, true
}

// detach ends c's polled session (c.poll.mu held): the socket leaves the
// set and is closed, and the end is sent to the session's goroutine.
func (p *poller) detach(c *streamConn, code int, err error) {
	if !c.poll.on {
		return
	}
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.poll.fd, nil)
	_ = syscall.Close(c.poll.fd)
	c.poll.on = false
	c.poll.pend = c.poll.pend[:0]
	c.poll.done <- pollEnd{code: code, err: err}
}

// closePolled ends c's polled session from any goroutine (a local close).
func (c *streamConn) closePolled() {
	c.poll.mu.Lock()
	if c.poll.on {
		c.poll.p.detach(c, 0, nil)
	}
	c.poll.mu.Unlock()
}

// handle reads c's socket once and handles every whole frame read (c.poll.mu
// held).
func (p *poller) handle(c *streamConn) {
	if need := 2*len(c.poll.pend) + 4096; need > len(p.buf) {
		p.buf = make([]byte, need) // a frame larger than the buffer
	}
	k := copy(p.buf, c.poll.pend)
	n, err := syscall.Read(c.poll.fd, p.buf[k:])
	eof := false
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		n = 0
	case err != nil:
		p.detach(c, 0, fmt.Errorf("bench: read: %w", err))
		return
	case n == 0:
		eof = true
	}
	data, ended := p.frames(c, p.buf[:k+n])
	if ended {
		return
	}
	if eof {
		p.detach(c, 0, io.EOF)
		return
	}
	c.poll.pend = append(c.poll.pend[:0], data...)
}

// frames handles every whole frame at the start of data and returns the
// rest (a partial frame); ended is true when the session ended.
func (p *poller) frames(c *streamConn, data []byte) (rest []byte, ended bool) {
	for {
		h, hl, err := parseFrameHeader(data)
		if err != nil {
			p.detach(c, 0, err)
			return nil, true
		}
		if hl == 0 || int64(len(data)-hl) < h.length {
			return data, false
		}
		end := hl + int(h.length)
		if p.frame(c, h, data[hl:end]) {
			return nil, true
		}
		data = data[end:]
	}
}

// frame handles one frame of a welcomed stream as session does; true when
// the session ended.
func (p *poller) frame(c *streamConn, h frameHeader, payload []byte) bool {
	f := p.f
	switch {
	case !h.fin || h.rsv != 0:
		p.detach(c, 0, fmt.Errorf("%w: fragmented or compressed frame", ErrProtocol))
		return true
	case h.masked:
		p.detach(c, 0, fmt.Errorf("%w: masked frame from the server", ErrProtocol))
		return true
	}
	switch h.op {
	case opText:
	case opPing:
		p.write(c, ws.NewPongFrame(payload))
		return false
	case opPong:
		return false
	case opClose:
		code := closeCode(payload)
		c.lastCode.Store(int64(code))
		p.write(c, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), "")))
		p.detach(c, code, nil)
		return true
	default:
		p.detach(c, 0, fmt.Errorf("%w: opcode %#x", ErrProtocol, h.op))
		return true
	}
	fr, err := ParseFrame(payload)
	if err != nil {
		p.detach(c, 0, err)
		return true
	}
	switch fr.Type {
	case FrameEvent:
		f.onEvent(c, fr)
	case FrameWelcome:
		p.detach(c, 0, fmt.Errorf("%w: second welcome", errSession))
		return true
	case FrameReset:
		c.resets++
		f.resets.Add(1)
		c.track.Rebase(fr.Head)
		c.last.Store(c.track.Last)
	}
	return false
}

// write sends a control frame, masked, without blocking: a full socket
// drops it (a pong or close reply the server can do without).
func (p *poller) write(c *streamConn, fr ws.Frame) {
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, ws.MaskFrameInPlace(fr)); err != nil {
		return
	}
	_, _ = syscall.Write(c.poll.fd, b.Bytes())
}
