package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	base := func() Config {
		return Config{Verifier: testVerifier, Publisher: &testPublisher{}, Streams: newTestStreams()}
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{
			name: "no publisher",
			mod:  func(c *Config) { c.Publisher = nil },
		},
		{
			name: "no streams",
			mod:  func(c *Config) { c.Streams = nil },
		},
		{
			name: "no verifier",
			mod:  func(c *Config) { c.Verifier = nil },
		},
		{
			name: "negative timeout",
			mod:  func(c *Config) { c.PublishTimeout = -time.Second },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	cfg := base()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || cfg.PublishTimeout != DefaultPublishTimeout ||
		cfg.HeaderTimeout != DefaultHeaderTimeout || cfg.Readiness == nil || cfg.Metrics == nil ||
		cfg.Logger == nil || cfg.Now == nil {
		t.Fatalf("defaults not filled: %+v", cfg)
	}
}

func TestLifecycle(t *testing.T) {
	srv, err := New(Config{
		Listen: "127.0.0.1:0", Verifier: testVerifier, Publisher: &testPublisher{}, Streams: newTestStreams(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != "" {
		t.Fatal("Addr before Start")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	addr := srv.Addr()
	if _, port, _ := net.SplitHostPort(addr); port == "0" || port == "" {
		t.Fatalf("Addr %q", addr)
	}

	// A connection that never sends its head is cut by Shutdown, not waited
	// for until the header timeout.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := idle.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		srv.mu.Lock()
		n := len(srv.handshakes)
		srv.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle conn never accepted")
		}
		time.Sleep(time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := srv.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("idle conn still open after Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	srv, err := New(Config{Verifier: testVerifier, Publisher: &testPublisher{}, Streams: newTestStreams()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
}

func TestListenError(t *testing.T) {
	srv, err := New(Config{
		Listen: "127.0.0.1:-1", Verifier: testVerifier, Publisher: &testPublisher{}, Streams: newTestStreams(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil {
		t.Fatal("Start with a bad address succeeded")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
