//go:build linux

package socket

import (
	"net"
	"sync"
	"testing"
	"time"
)

// A registration fires once per readiness, again after Rearm, and never
// after Remove.
func TestPollerFiresOncePerRearm(t *testing.T) {
	var wg sync.WaitGroup
	p, err := NewPoller(&wg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Stop(); wg.Wait() }()
	s, c := tcpPair(t)
	fired := make(chan *Registration, 4)
	r := p.Add(s, func(r *Registration) {
		var b [1]byte
		_, _ = s.Read(b[:])
		fired <- r
	})
	if r == nil || !r.Active() {
		t.Fatal("a TCP socket was not registered")
	}
	wait := func(want bool) {
		t.Helper()
		select {
		case got := <-fired:
			if !want {
				t.Fatal("fired while not armed")
			}
			if got != r {
				t.Fatal("fired with another registration")
			}
		case <-time.After(200 * time.Millisecond):
			if want {
				t.Fatal("not fired on a readable socket")
			}
		}
	}
	_, _ = c.Write([]byte{1})
	wait(true)
	_, _ = c.Write([]byte{2})
	wait(false) // one-shot: not re-armed yet
	r.Rearm()
	wait(true)
	r.Remove()
	r.Remove()
	if r.Active() {
		t.Fatal("active after Remove")
	}
	_, _ = c.Write([]byte{3})
	wait(false)
}

func TestPollerRefusesNonTCP(t *testing.T) {
	var wg sync.WaitGroup
	p, err := NewPoller(&wg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Stop(); p.Stop(); wg.Wait() }()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if r := p.Add(a, func(*Registration) {}); r != nil {
		t.Fatal("a pipe was registered")
	}
	var nilPoller *Poller
	if r := nilPoller.Add(a, nil); r != nil || r.Active() {
		t.Fatal("a nil poller registered a socket")
	}
}
