package bench

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// proxyDialTimeout bounds the dial of the target for one accepted
// connection.
const proxyDialTimeout = 2 * time.Second

// proxyBuffer is the bytes one direction of one connection reads before it
// waits for its write; while blocked, that much is held in the proxy and
// the rest waits in the kernel's socket buffers, as in a real network.
const proxyBuffer = 32 << 10

// Proxy is a TCP proxy on loopback that forwards every connection it
// accepts to one target address, and that can be blocked: the network
// partition of the soak campaign (Cluster.Partition).
//
// Block holds traffic silent instead of cutting it. A real partition drops
// packets: TCP retransmits, the peers see silence, not a reset, and
// connections that outlive a short partition deliver their bytes late.
// Holding is that: established connections stop forwarding in both
// directions (the bytes read so far are kept, not dropped, and the
// senders' kernel buffers fill), and connections accepted meanwhile are
// not dialed onward until Heal. The peers notice only through their own
// timeouts (NATS route pings, RAFT heartbeats, write deadlines), the way
// they would on a real network. Cutting connections instead (RST) would
// tell both sides at once, which no partition does.
//
// Every goroutine it starts ends by Close.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	gate    chan struct{} // closed while traffic flows; open (blocking) while blocked
	conns   map[net.Conn]struct{}
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

// StartProxy listens on listen ("127.0.0.1:0" picks a free port) and
// forwards to target.
func StartProxy(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("bench: proxy to %s: %w", target, err)
	}
	flowing := make(chan struct{})
	close(flowing)
	p := &Proxy{target: target, ln: ln, gate: flowing, conns: map[net.Conn]struct{}{}, closing: make(chan struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the address the proxy listens on, "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Block holds every byte and every new connection until Heal. Blocking a
// blocked proxy does nothing.
func (p *Proxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Heal lets the held bytes and connections through again. Healing a
// flowing proxy does nothing.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Blocked reports whether the proxy holds traffic.
func (p *Proxy) Blocked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		return false
	default:
		return true
	}
}

// Close stops listening, closes every connection (held ones too) and waits
// for every goroutine. Safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	err := p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// pass waits until traffic flows; false when the proxy closes first.
func (p *Proxy) pass() bool {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-p.closing:
		return false
	}
}

// track adds c to the connections Close closes; false (and c closed) when
// the proxy is already closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// accept runs until the listener closes.
func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed by Close (a loopback listener fails no other way)
		}
		if !p.track(c) {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve dials the target for the accepted connection c, once traffic
// flows, and copies both ways until either side ends.
func (p *Proxy) serve(c net.Conn) {
	defer p.untrack(c)
	if !p.pass() {
		return
	}
	t, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		return // the client sees its connection closed, like a refused dial
	}
	if !p.track(t) {
		return
	}
	defer p.untrack(t)
	done := make(chan struct{}, 2)
	p.wg.Go(func() { p.copy(t, c); done <- struct{}{} })
	p.wg.Go(func() { p.copy(c, t); done <- struct{}{} })
	<-done
	// One direction ended: end the connection both ways (the deferred
	// untracks close both, which ends the other copy).
}

// copy forwards src to dst, waiting before each write while blocked. The
// end of src (EOF, reset) is held too: a close does not cross a partition
// either.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, proxyBuffer)
	for {
		n, err := src.Read(buf)
		if !p.pass() {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
