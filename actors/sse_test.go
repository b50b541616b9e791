package actors

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/persistence"
)

// sseStream is an SSE stream whose refusal names its status and code.
func sseStream(user string) messages.Stream {
	s := benchStream(0, messages.EncSSE)
	s.Org, s.User = "acme", user
	s.SSE.Refusal = func(status int, code, msg string) []byte {
		return []byte("HTTP/1.1 " + strconv.Itoa(status) + " X\r\n\r\n" + code)
	}
	return s
}

// Where a WebSocket would be closed with 4029 or 1001 right after its
// upgrade, the hub answers an SSE request with its HTTP refusal (429, 503),
// counts it, and nothing is streamed.
func TestSSERefusedByHub(t *testing.T) {
	m := metrics.New()
	h, err := NewHub(Config{Log: persistence.NewMemory(persistence.MemoryConfig{}), Metrics: m, MaxConnsPerUser: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	held := openStreamAs(t, h, sseStream("alice"))
	defer held.Close()
	if b := readUntil(t, held, "event: welcome\n"); !strings.HasPrefix(b, "HTTP/1.1 200 OK\r\n") || !strings.Contains(b, "\r\n\r\nretry: ") {
		t.Fatalf("accepted stream starts %q", b)
	}

	over := openStreamAs(t, h, sseStream("alice"))
	defer over.Close()
	if b := readAll(t, over); b != "HTTP/1.1 429 X\r\n\r\ntoo_many_connections" {
		t.Fatalf("over the limit: %q", b)
	}
	_ = h.Drain(context.Background(), 0)
	late := openStreamAs(t, h, sseStream("bob"))
	defer late.Close()
	if b := readAll(t, late); b != "HTTP/1.1 503 X\r\n\r\ndraining" {
		t.Fatalf("while draining: %q", b)
	}
	if n := m.ConnectionsRefused.Load(); n != 2 {
		t.Fatalf("refused %d, want 2", n)
	}
}

func readAll(t *testing.T, c io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readUntil reads until what it read contains s.
func readUntil(t *testing.T, c interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, s string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(b), s) {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q: %v", b, err)
		}
	}
	return string(b)
}
