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
// one that finds the socket empty), a park and a wake-up, and it is woken
// only when the Go scheduler polls the network: on a busy box the readers
// fall behind and the latency measured is the harness's. Once a stream is
// welcomed, its socket is handed to one of a few pollers: a
// level-triggered epoll set read by one goroutine, one read(2) of up to
// pollBuf bytes per ready socket, every whole frame in it handled in place,
// a partial frame kept for the next read. The connection's own goroutine
// waits for the end of the session and then goes on as before. The same
// pollers read orgstream streams and Centrifugo clients; only the handling
// of a text frame differs (pollSet.text).

// pollBuf is a poller's read buffer: many frames per read when a socket
// has fallen behind.
const pollBuf = 64 << 10

// pollWaitMs bounds an epoll_wait, so that a stopped poller notices.
const pollWaitMs = 50

// pollSupported tells whether fleets can hand streams to pollers.
const pollSupported = true

// pollEnd is how a polled session ended: the server's close code (0 when
// none) and the error (nil for a close frame or a local close).
type pollEnd struct {
	code int
	err  error
}

// pollState is a connection's share of the poller, guarded by mu (held by
// the poller while it handles the socket).
type pollState struct {
	mu   sync.Mutex
	on   bool // fd is polled by p
	fd   int
	p    *poller
	pend []byte       // a partial frame left by the last read
	done chan pollEnd // the session's end, sent once
}

// pollSet is what the pollers of a fleet know of its connections.
type pollSet struct {
	// state returns connection i's pollState.
	state func(i int) *pollState
	// text handles a text frame of connection i; an error ends the
	// session with it.
	text func(p *poller, i int, payload []byte) error
}

// poller is one epoll set and the goroutine reading it.
type poller struct {
	set  pollSet
	epfd int
	buf  []byte
	stop atomic.Bool
	wg   sync.WaitGroup
}

// startPollers starts one poller per CPU over set.
func startPollers(set pollSet) ([]*poller, error) {
	ps := make([]*poller, runtime.GOMAXPROCS(0))
	for i := range ps {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			stopPollers(ps[:i])
			return nil, fmt.Errorf("bench: epoll: %w", err)
		}
		p := &poller{set: set, epfd: epfd, buf: make([]byte, pollBuf)}
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
			i := int(ev.Fd)
			st := p.set.state(i)
			st.mu.Lock()
			if st.on && st.p == p {
				p.handle(i, st)
			}
			st.mu.Unlock()
		}
	}
}

// handOff moves connection i's welcomed stream from its goroutine to
// poller p: leftover is what the goroutine had read past the welcome;
// claim, called once the poller is ready, takes nc from the connection
// (false: it was closed meanwhile). handOff returns false (and leaves nc to
// the caller) when the stream could not be handed off; otherwise nc is
// closed (the poller owns a duplicate of its socket) and the end of the
// session arrives on the returned channel.
func (p *poller) handOff(i int, st *pollState, nc net.Conn, leftover []byte, claim func() bool) (<-chan pollEnd, bool) {
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
	st.mu.Lock()
	defer st.mu.Unlock()
	st.on, st.fd, st.p, st.done = true, fd, p, done
	st.pend = st.pend[:0]
	if !claim() {
		_ = syscall.Close(fd)
		st.on = false
		return nil, false
	}
	_ = nc.Close() // our duplicate keeps the socket open
	rest, ended := p.frames(i, st, leftover)
	if ended {
		return done, true
	}
	st.pend = append(st.pend, rest...)
	// Level-triggered: data that came meanwhile is reported at once.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(i)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.detach(st, 0, fmt.Errorf("bench: epoll add: %w", err))
	}
	return done, true
}

// detach ends a polled session (st.mu held): the socket leaves the set and
// is closed, and the end is sent to the session's goroutine.
func (p *poller) detach(st *pollState, code int, err error) {
	if !st.on {
		return
	}
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, st.fd, nil)
	_ = syscall.Close(st.fd)
	st.on = false
	st.pend = st.pend[:0]
	st.done <- pollEnd{code: code, err: err}
}

// close ends a polled session from any goroutine (a local close).
func (st *pollState) close() {
	st.mu.Lock()
	if st.on {
		st.p.detach(st, 0, nil)
	}
	st.mu.Unlock()
}

// handle reads connection i's socket once and handles every whole frame
// read (st.mu held).
func (p *poller) handle(i int, st *pollState) {
	if need := 2*len(st.pend) + 4096; need > len(p.buf) {
		p.buf = make([]byte, need) // a frame larger than the buffer
	}
	k := copy(p.buf, st.pend)
	n, err := syscall.Read(st.fd, p.buf[k:])
	eof := false
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		n = 0
	case err != nil:
		p.detach(st, 0, fmt.Errorf("bench: read: %w", err))
		return
	case n == 0:
		eof = true
	}
	data, ended := p.frames(i, st, p.buf[:k+n])
	if ended {
		return
	}
	if eof {
		p.detach(st, 0, io.EOF)
		return
	}
	st.pend = append(st.pend[:0], data...)
}

// frames handles every whole frame at the start of data and returns the
// rest (a partial frame); ended is true when the session ended.
func (p *poller) frames(i int, st *pollState, data []byte) (rest []byte, ended bool) {
	for {
		h, hl, err := parseFrameHeader(data)
		if err != nil {
			p.detach(st, 0, err)
			return nil, true
		}
		if hl == 0 || int64(len(data)-hl) < h.length {
			return data, false
		}
		end := hl + int(h.length)
		if p.frame(i, st, h, data[hl:end]) {
			return nil, true
		}
		data = data[end:]
	}
}

// frame handles one frame of a welcomed stream: control frames here, text
// frames by the set; true when the session ended.
func (p *poller) frame(i int, st *pollState, h frameHeader, payload []byte) bool {
	switch {
	case !h.fin || h.rsv != 0:
		p.detach(st, 0, fmt.Errorf("%w: fragmented or compressed frame", ErrProtocol))
		return true
	case h.masked:
		p.detach(st, 0, fmt.Errorf("%w: masked frame from the server", ErrProtocol))
		return true
	}
	switch h.op {
	case opText:
		if err := p.set.text(p, i, payload); err != nil {
			p.detach(st, 0, err)
			return true
		}
		return false
	case opPing:
		p.write(st, ws.NewPongFrame(payload))
		return false
	case opPong:
		return false
	case opClose:
		code := closeCode(payload)
		p.write(st, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), "")))
		p.detach(st, code, nil)
		return true
	default:
		p.detach(st, 0, fmt.Errorf("%w: opcode %#x", ErrProtocol, h.op))
		return true
	}
}

// writeText sends a text frame on connection i (from a text handler).
func (p *poller) writeText(i int, b []byte) {
	p.write(p.set.state(i), ws.NewTextFrame(b))
}

// write sends a frame, masked, without blocking: a full socket drops it (a
// pong or close reply the server can do without).
func (p *poller) write(st *pollState, fr ws.Frame) {
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, ws.MaskFrameInPlace(fr)); err != nil {
		return
	}
	_, _ = syscall.Write(st.fd, b.Bytes())
}
