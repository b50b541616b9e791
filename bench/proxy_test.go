package bench

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// startEcho is a TCP echo server on loopback; it stops with the test.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c); _ = c.Close() })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoLine writes line and reads the echo, within limit.
func echoLine(c net.Conn, r *bufio.Reader, line string, limit time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(limit))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if len(got) > 0 {
		got = got[:len(got)-1]
	}
	return got, err
}

// quiet is how long a blocked proxy is watched for leaking a byte. A test
// of absence cannot wait forever; a leak would show within it, as the
// proxy forwards in microseconds when flowing.
const quiet = 300 * time.Millisecond

func TestProxy(t *testing.T) {
	p, err := StartProxy("127.0.0.1:0", startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := echoLine(c, r, "one", 5*time.Second); err != nil || got != "one" {
		t.Fatalf("flowing: echo %q, %v; want one", got, err)
	}

	p.Block()
	if !p.Blocked() {
		t.Fatal("Blocked() false after Block")
	}
	// An established connection: its bytes are held, not delivered.
	if got, err := echoLine(c, r, "two", quiet); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked: echo %q, %v; want a timeout", got, err)
	}
	// A connection opened while blocked is accepted but goes nowhere.
	held, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldR := bufio.NewReader(held)
	if got, err := echoLine(held, heldR, "three", quiet); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection while blocked: echo %q, %v; want a timeout", got, err)
	}

	p.Heal()
	if p.Blocked() {
		t.Fatal("Blocked() true after Heal")
	}
	// The held bytes arrive late, as after a short real partition.
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("after heal, the held bytes: %q, %v; want two", got, err)
	}
	if got, err := heldR.ReadString('\n'); err != nil || got != "three\n" {
		t.Fatalf("after heal, the held connection: %q, %v; want three", got, err)
	}
	fresh, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if got, err := echoLine(fresh, bufio.NewReader(fresh), "four", 5*time.Second); err != nil || got != "four" {
		t.Fatalf("new connection after heal: echo %q, %v; want four", got, err)
	}

	// Close ends the connections, a blocked one too.
	p.Block()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after Close: read %v; want the connection closed", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("dial after Close succeeded")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestProxyHoldsClose: a connection closed on one side while blocked is
// not seen closed on the other side before Heal.
func TestProxyHoldsClose(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	p, err := StartProxy("127.0.0.1:0", target.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	s, err := target.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p.Block()
	_ = c.Close()
	_ = s.SetReadDeadline(time.Now().Add(quiet))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked: the target read %v; want a timeout (the close held)", err)
	}
	p.Heal()
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("healed: the target read %v; want EOF", err)
	}
}
