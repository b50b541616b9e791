package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/coder/websocket"
)

// ReadLimit is the largest message a Client reads (events carry up to 1 MiB
// of data).
const ReadLimit = 4 << 20

// Frame is a decoded server frame; only the fields of its Type are set.
type Frame struct {
	Type string `json:"type"`

	// event
	Seq   uint64          `json:"seq"`
	Topic string          `json:"topic"`
	TS    string          `json:"ts"`
	ID    string          `json:"id"`
	Data  json.RawMessage `json:"data"`

	// welcome
	ConnID  string  `json:"conn_id"`
	Org     string  `json:"org"`
	User    string  `json:"user"`
	Epoch   string  `json:"epoch"`
	Head    uint64  `json:"head"`
	Resumed bool    `json:"resumed"`
	Replay  *Replay `json:"replay"`
	Scoped  bool    `json:"scoped"`
	// Protocol is the wire contract's version ("2").
	Protocol string `json:"protocol"`

	// reset (and Head)
	Reason string `json:"reason"`
	First  uint64 `json:"first"`

	// presence (and User)
	State string `json:"state"`

	// Raw is the message as received.
	Raw []byte `json:"-"`
}

// Replay is the replay range of a resumed welcome.
type Replay struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// Client is a WebSocket stream client (github.com/coder/websocket).
type Client struct {
	Conn *websocket.Conn
	// Resp is the handshake response.
	Resp *http.Response
	t    testing.TB
}

// DialErr opens a stream. On a refused handshake it returns the response
// (with its body readable) and an error. Safe from any goroutine.
func DialErr(ctx context.Context, u string, opts *websocket.DialOptions) (*Client, *http.Response, error) {
	c, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(ReadLimit)
	return &Client{Conn: c, Resp: resp}, resp, nil
}

// Dial opens a stream and fails t if the handshake fails. The connection is
// closed when t ends.
func Dial(ctx context.Context, t testing.TB, u string, opts *websocket.DialOptions) *Client {
	t.Helper()
	c, resp, err := DialErr(ctx, u, opts)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		t.Fatalf("testkit: dial stream: status %d: %v", st, err)
	}
	c.t = t
	t.Cleanup(func() { c.Close() })
	return c
}

// Close closes the connection without waiting for the server (idempotent).
func (c *Client) Close() { _ = c.Conn.CloseNow() }

// ReadFrame reads and decodes one text message.
func (c *Client) ReadFrame(ctx context.Context) (Frame, error) {
	typ, b, err := c.Conn.Read(ctx)
	if err != nil {
		return Frame{}, err
	}
	if typ != websocket.MessageText {
		return Frame{}, fmt.Errorf("testkit: %v message, want text", typ)
	}
	return DecodeFrame(b)
}

// DecodeFrame decodes one server message and checks that "type" is its
// first field.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("testkit: decode %q: %w", b, err)
	}
	if len(b) < 8 || string(b[:8]) != `{"type":` {
		return Frame{}, fmt.Errorf("testkit: field type is not first in %q", b)
	}
	f.Raw = b
	return f, nil
}

// ReadWelcome reads the first frame and checks it is a welcome.
func (c *Client) ReadWelcome(ctx context.Context) (Frame, error) {
	f, err := c.ReadFrame(ctx)
	if err != nil {
		return f, err
	}
	if f.Type != "welcome" {
		return f, fmt.Errorf("testkit: first frame %s, want welcome", f.Raw)
	}
	return f, nil
}

// ExpectWelcome is ReadWelcome failing the Dial's t on an error.
func (c *Client) ExpectWelcome(ctx context.Context) Frame {
	c.t.Helper()
	f, err := c.ReadWelcome(ctx)
	if err != nil {
		c.t.Fatalf("testkit: %v", err)
	}
	return f
}

// ExpectFrame reads one frame of type typ, failing the Dial's t otherwise.
func (c *Client) ExpectFrame(ctx context.Context, typ string) Frame {
	c.t.Helper()
	f, err := c.ReadFrame(ctx)
	if err != nil {
		c.t.Fatalf("testkit: read %s: %v", typ, err)
	}
	if f.Type != typ {
		c.t.Fatalf("testkit: got %s, want a %s frame", f.Raw, typ)
	}
	return f
}

// CollectEvents reads frames until n events arrived; any other frame type
// is an error.
func (c *Client) CollectEvents(ctx context.Context, n int) ([]Frame, error) {
	out := make([]Frame, 0, n)
	for len(out) < n {
		f, err := c.ReadFrame(ctx)
		if err != nil {
			return out, fmt.Errorf("testkit: after %d of %d events: %w", len(out), n, err)
		}
		if f.Type != "event" {
			return out, fmt.Errorf("testkit: after %d of %d events: unexpected %s", len(out), n, f.Raw)
		}
		out = append(out, f)
	}
	return out, nil
}

// CollectSeqs is CollectEvents returning only the seqs.
func (c *Client) CollectSeqs(ctx context.Context, n int) ([]uint64, error) {
	evs, err := c.CollectEvents(ctx, n)
	seqs := make([]uint64, len(evs))
	for i, e := range evs {
		seqs[i] = e.Seq
	}
	return seqs, err
}

// ReadUntilClose reads (and drops) frames until the connection ends and
// returns the close code, or -1 if it ended without a close frame (or ctx
// ended first).
func (c *Client) ReadUntilClose(ctx context.Context) (websocket.StatusCode, error) {
	for {
		_, _, err := c.Conn.Read(ctx)
		if err != nil {
			return CloseCode(err), err
		}
	}
}

// CloseCode is the close code carried by a read error, -1 if none.
func CloseCode(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

// ErrorBody is the JSON body of every refusal.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}
