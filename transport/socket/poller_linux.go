//go:build linux

package socket

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Poller watches the sockets of idle connections with one epoll instance
// and one goroutine, so that an idle connection holds no goroutine of its
// own (DESIGN.md invariant 6). Registrations are one-shot: a readable socket
// is handed to a short-lived goroutine that runs the registration's handler,
// which reads and then re-arms (or removes) it.
//
// The Go runtime's own netpoller keeps the fd too; reading through the
// net.Conn stays correct (non-blocking, deadlines work). Events carry a
// registration id, never the fd, so a reused fd number cannot reach the
// wrong connection.
type Poller struct {
	epfd int
	wake int // eventfd that ends run
	wg   *sync.WaitGroup

	mu   sync.Mutex
	regs map[uint64]*Registration
	ids  atomic.Uint64
	once sync.Once
	done chan struct{}
}

// Registration is one socket watched by a Poller. Its methods are safe for
// concurrent use; once removed, it stays removed.
type Registration struct {
	p      *Poller
	handle func(*Registration)

	mu sync.Mutex // so a re-arm never touches an fd that was closed (and maybe reused)
	id uint64     // 0 once removed
	fd int
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// NewPoller starts the poller goroutine, counted in wg (as is every handler
// goroutine it starts). Stop ends it.
func NewPoller(wg *sync.WaitGroup) (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("socket: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("socket: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN} // id 0: the wake fd
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("socket: epoll_ctl wake: %w", err)
	}
	p := &Poller{epfd: epfd, wake: wake, wg: wg, regs: map[uint64]*Registration{}, done: make(chan struct{})}
	wg.Add(1)
	go p.run()
	return p, nil
}

// Add watches sock for reads: each time it is readable, handle runs on a
// goroutine of its own and must end with Rearm or Remove. It returns nil
// when sock cannot be polled (not a plain TCP socket, or a nil Poller) and
// the caller reads it with a goroutine instead.
func (p *Poller) Add(sock net.Conn, handle func(*Registration)) *Registration {
	if p == nil {
		return nil
	}
	tc, ok := sock.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return nil
	}
	r := &Registration{p: p, handle: handle, id: p.ids.Add(1), fd: fd}
	r.mu.Lock()
	defer r.mu.Unlock()
	p.mu.Lock()
	p.regs[r.id] = r
	p.mu.Unlock()
	ev := event(r.id)
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.forget(r.id)
		return nil
	}
	return r
}

// Rearm re-enables the one-shot registration after a read.
func (r *Registration) Rearm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id == 0 {
		return
	}
	ev := event(r.id)
	_ = unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_MOD, r.fd, &ev)
}

// Remove unregisters the socket; call it before closing the socket. Safe
// to call twice and on nil.
func (r *Registration) Remove() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id == 0 {
		return
	}
	_ = unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_DEL, r.fd, nil)
	r.p.forget(r.id)
	r.id = 0
}

// Active reports whether the poller still watches the socket.
func (r *Registration) Active() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id != 0
}

func (p *Poller) forget(id uint64) {
	p.mu.Lock()
	delete(p.regs, id)
	p.mu.Unlock()
}

func (p *Poller) run() {
	defer p.wg.Done()
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for i := range events[:n] {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			if id == 0 {
				return // woken to stop
			}
			p.mu.Lock()
			r := p.regs[id]
			p.mu.Unlock()
			if r == nil {
				continue // removed meanwhile
			}
			p.wg.Add(1)
			go r.fire()
		}
	}
}

func (r *Registration) fire() {
	defer r.p.wg.Done()
	r.handle(r)
}

// Stop ends the poller goroutine and releases the epoll instance. Safe to
// call twice and on nil.
func (p *Poller) Stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		var one = [8]byte{1}
		_, _ = unix.Write(p.wake, one[:])
		<-p.done
		_ = unix.Close(p.epfd)
		_ = unix.Close(p.wake)
	})
}

func event(id uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}
