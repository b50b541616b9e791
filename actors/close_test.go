package actors

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// The closing handshake ends with the server closing TCP as soon as both
// close frames have crossed, not after CloseLinger (set to an hour here):
// a browser reports a close, and reconnects, only once the TCP connection
// is gone. Each case ends in EOF within seconds or fails.
func TestClosingHandshakeClosesAtOnce(t *testing.T) {
	tests := []struct {
		name string
		// act makes the close happen; it returns the close code the client
		// must get and, if it started a Drain, the channel of its result.
		act func(t *testing.T, h *Hub, c net.Conn) (ws.StatusCode, <-chan error)
	}{
		{
			name: "server starts (drain), client answers",
			act: func(t *testing.T, h *Hub, c net.Conn) (ws.StatusCode, <-chan error) {
				drained := make(chan error, 1)
				var wg sync.WaitGroup
				wg.Go(func() { drained <- h.Drain(context.Background(), 0) })
				// Joined after the deferred Shutdown, even if the test stops early.
				t.Cleanup(wg.Wait)
				return CloseGoingAway, drained
			},
		},
		{
			name: "client starts, server answers",
			act: func(t *testing.T, h *Hub, c net.Conn) (ws.StatusCode, <-chan error) {
				writeClose(t, c, ws.StatusNormalClosure)
				return ws.StatusNormalClosure, nil
			},
		},
		{
			name: "refused with 4029 before the welcome, client answers",
			act: func(t *testing.T, h *Hub, c net.Conn) (ws.StatusCode, <-chan error) {
				return 0, nil // the second connection of the user, see below
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHub(Config{
				Log: persistence.NewMemory(persistence.MemoryConfig{}), CloseLinger: time.Hour,
				MaxConnsPerUser: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = h.Shutdown(context.Background()) }()
			c := openStream(t, h)
			defer c.Close()
			readWelcome(t, c)
			want, drained := tt.act(t, h, c)
			if want == 0 {
				c = openStream(t, h) // one more for alice: 4029
				defer c.Close()
				want = CloseTooManyStreams
			}
			expectCloseThenEOF(t, c, want)
			if drained != nil {
				select {
				case err := <-drained:
					if err != nil {
						t.Errorf("Drain: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("Drain did not return once the connection was gone")
				}
			}
		})
	}
}

// openStream hands the server end of a loopback connection to h as alice's
// stream of org "acme" and returns the client end.
func openStream(t *testing.T, h *Hub) net.Conn {
	t.Helper()
	return openStreamAs(t, h, messages.Stream{Org: "acme", User: "alice", Expiry: time.Now().Add(time.Hour)})
}

// openStreamAs hands the server end of a loopback connection to h as the
// stream s and returns the client end.
func openStreamAs(t *testing.T, h *Hub, s messages.Stream) net.Conn {
	t.Helper()
	srvs, cs := loopbackPairs(t, 1)
	h.Open(srvs[0], s)
	return cs[0]
}

func readWelcome(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, _, err := readServerFrame(c)
	// The heartbeat may ping a connection before its welcome when the org
	// takes long to start (a loaded machine): a ping is not the welcome.
	for err == nil && h.OpCode == ws.OpPing {
		h, _, err = readServerFrame(c)
	}
	if err != nil || h.OpCode != ws.OpText {
		t.Fatalf("welcome: %v %v", h.OpCode, err)
	}
}

func writeClose(t *testing.T, c net.Conn, code ws.StatusCode) {
	t.Helper()
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))); err != nil {
		t.Fatal(err)
	}
}

// expectCloseThenEOF reads up to the server's close frame (answering it
// unless the client sent one first), then expects the server to close TCP.
func expectCloseThenEOF(t *testing.T, c net.Conn, want ws.StatusCode) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		h, payload, err := readServerFrame(c)
		if err != nil {
			t.Fatalf("before the close frame: %v", err)
		}
		if h.OpCode != ws.OpClose {
			continue
		}
		code, _ := ws.ParseCloseFrameData(payload)
		if code != want {
			t.Fatalf("close code %d, want %d", code, want)
		}
		if want != ws.StatusNormalClosure { // the server started: answer
			writeClose(t, c, code)
		}
		break
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after the closing handshake: %v, want EOF (the server closing TCP, not waiting out CloseLinger)", err)
	}
}

// readServerFrame reads one unmasked frame of at most 64 KiB.
func readServerFrame(c net.Conn) (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(c)
	if err != nil {
		return h, nil, err
	}
	if h.Length > 64<<10 {
		return h, nil, errors.New("frame over 64 KiB")
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(c, p)
	return h, p, err
}
