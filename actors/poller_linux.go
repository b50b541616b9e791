//go:build linux

package actors

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/sys/unix"
)

// poller watches the sockets of idle connections with one epoll instance
// and one goroutine, so that an idle connection holds no goroutine of its
// own (DESIGN.md invariant 6). Registrations are one-shot: a readable socket
// is handed to a short-lived goroutine that reads one frame and re-arms it.
//
// The Go runtime's own netpoller keeps the fd too; reading through the
// net.Conn stays correct (non-blocking, deadlines work). Events carry a
// registration id, never the fd, so a reused fd number cannot reach the
// wrong connection.
type poller struct {
	epfd int
	wake int // eventfd that ends run
	root *actor.RootContext
	wg   *sync.WaitGroup

	mu    sync.Mutex
	conns map[uint64]*conn
	ids   atomic.Uint64
	once  sync.Once
	done  chan struct{}
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func newPoller(root *actor.RootContext, wg *sync.WaitGroup) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("actors: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("actors: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN} // id 0: the wake fd
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("actors: epoll_ctl wake: %w", err)
	}
	p := &poller{epfd: epfd, wake: wake, root: root, wg: wg, conns: map[uint64]*conn{}, done: make(chan struct{})}
	wg.Add(1)
	go p.run()
	return p, nil
}

// add registers c's socket; false means it cannot be polled (not a plain
// TCP socket) and the caller reads it with a goroutine instead.
func (p *poller) add(c *conn) bool {
	if p == nil {
		return false
	}
	tc, ok := c.sock.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return false
	}
	id := p.ids.Add(1)
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	p.mu.Lock()
	p.conns[id] = c
	p.mu.Unlock()
	c.pollID, c.fd = id, fd
	ev := event(id)
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.forget(id)
		c.pollID = 0
		return false
	}
	return true
}

// rearm re-enables c's one-shot registration after a frame was read.
func (p *poller) rearm(c *conn) {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.pollID == 0 {
		return
	}
	ev := event(c.pollID)
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// remove unregisters c; call it before closing the socket. Safe to call
// twice and for a connection that was never registered.
func (p *poller) remove(c *conn) {
	if p == nil {
		return
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.pollID == 0 {
		return
	}
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	p.forget(c.pollID)
	c.pollID = 0
}

func (p *poller) forget(id uint64) {
	p.mu.Lock()
	delete(p.conns, id)
	p.mu.Unlock()
}

func (p *poller) run() {
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
			c := p.conns[id]
			p.mu.Unlock()
			if c == nil {
				continue // removed meanwhile
			}
			p.wg.Add(1)
			go c.onReadable(p.root)
		}
	}
}

// stop ends the poller goroutine and releases the epoll instance.
func (p *poller) stop() {
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
