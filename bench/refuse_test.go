//go:build unix

package bench

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestRefusedAddr: a dial of it is refused, and its port cannot be taken
// by a listener (Go's sets SO_REUSEADDR, as nats-server's does).
func TestRefusedAddr(t *testing.T) {
	r, err := newRefusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if c, err := net.DialTimeout("tcp", r.addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("dial %s: %v; want ECONNREFUSED", r.addr, err)
	}
	if l, err := net.Listen("tcp", r.addr); err == nil {
		_ = l.Close()
		t.Fatalf("listen on %s succeeded; want the port held", r.addr)
	}
}
