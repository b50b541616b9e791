package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// tokenExpiry reads the exp claim of a token (without verifying it).
func tokenExpiry(t *testing.T, tok string) time.Time {
	t.Helper()
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil || c.ExpiresAt == nil {
		t.Fatalf("token exp: %v", err)
	}
	return c.ExpiresAt.Time
}

// PROTOCOL.md "Tokens" and close codes: an open connection is closed with
// 4001 within a second or two of its token's expiry (not before it), events
// flowing until then; the client resumes with a new token without a gap.
func TestTokenExpiryCloses4001(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	tok := n.Token(t, "acme", "alice", 3*time.Second, false)
	exp := tokenExpiry(t, tok)
	c := testkit.Dial(ctx, t, n.StreamURL(tok, nil), nil)
	w := c.ExpectWelcome(ctx)

	bg := publishInBackground(t, n.BaseURL(), "acme", pub, 0, false)
	var seqs []uint64
	var err error
	for {
		var f testkit.Frame
		f, err = c.ReadFrame(ctx)
		if err != nil {
			break
		}
		if f.Type != "event" {
			t.Fatalf("unexpected %s", f.Raw)
		}
		seqs = append(seqs, f.Seq)
	}
	closed := time.Now()
	if code := testkit.CloseCode(err); code != 4001 {
		t.Fatalf("stream ended with %v (code %d), want 4001", err, code)
	}
	if closed.Before(exp.Add(-50 * time.Millisecond)) {
		t.Errorf("closed at %v, before the token's expiry %v", closed, exp)
	}
	// "Within a second or two"; generous for a loaded -race run.
	if late := closed.Sub(exp); late > 5*time.Second {
		t.Errorf("closed %v after the token's expiry", late)
	}
	if len(seqs) == 0 {
		t.Fatalf("no event before the expiry")
	}
	testkit.AssertRange(t, seqs, w.Head+1, seqs[len(seqs)-1])

	// The client gets a new token and resumes.
	last := seqs[len(seqs)-1]
	c2 := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, "acme", "alice", time.Hour, false), last, w.Epoch), nil)
	w2 := c2.ExpectWelcome(ctx)
	acked := bg.finish(t)
	final := acked[len(acked)-1]
	if !w2.Resumed || w2.Replay == nil || w2.Replay.From != last+1 {
		t.Fatalf("resume welcome %s", w2.Raw)
	}
	got, err := c2.CollectSeqs(ctx, int(final-last))
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertRange(t, got, last+1, final)
}

// PROTOCOL.md "Subscribing": clients send nothing but control frames; a data
// frame is ignored or answered with 1008; a frame over 64 KiB gets 1009.
// Here a data frame must end the stream with 1008 or leave it working.
func TestClientFrames(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	cases := []struct {
		name  string
		frame ws.Frame
		want  int // close code; 1008 may also be "ignored"
	}{
		{"text frame", ws.NewTextFrame([]byte(`{"type":"hello"}`)), 1008},
		{"binary frame", ws.NewBinaryFrame([]byte{1, 2, 3}), 1008},
		{"data frame of exactly 64 KiB", ws.NewBinaryFrame(make([]byte, 64<<10)), 1008},
		{"data frame over 64 KiB", ws.NewBinaryFrame(make([]byte, 64<<10+1)), 1009},
		{"text frame of 1 MiB", ws.NewTextFrame(make([]byte, 1<<20)), 1009},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t, phase)
			org := fmt.Sprintf("frames%d", i)
			c, err := testkit.RawDial(ctx, n.StreamURL(n.Token(t, org, "u", time.Hour, false), nil), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			deadline := time.Now().Add(phase)
			if f, _, err := c.ReadDataFrame(deadline); err != nil || f.Type != "welcome" {
				t.Fatalf("welcome: %v", err)
			}
			if err := c.WriteFrame(tc.frame, deadline); err != nil {
				t.Fatalf("write: %v", err)
			}
			// A close with the code (events may still come before it), or,
			// for 1008 only, the frame was ignored and the stream still
			// delivers.
			seq := testkit.PublishEvent(t, n.BaseURL(), org, pub, "t", `{}`)
			for {
				f, _, err := c.ReadDataFrame(deadline)
				var ce *testkit.RawCloseError
				if errors.As(err, &ce) {
					if ce.Code != tc.want {
						t.Fatalf("closed with %d (%q), want %d", ce.Code, ce.Reason, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatalf("stream ended without a close frame: %v", err)
				}
				if f.Type != "event" {
					t.Fatalf("unexpected %s", f.Raw)
				}
				if f.Seq == seq && tc.want == 1008 {
					t.Logf("data frame ignored")
					return
				}
			}
		})
	}
}

// PROTOCOL.md --max-conns-per-user / --max-conns-per-org: one stream more
// than allowed is closed with 4029 right after the upgrade (no welcome);
// other users and orgs are not affected, and a freed slot is reusable.
func TestConnectionLimits4029(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.MaxConnsPerUser, c.MaxConnsPerOrg = 2, 4 })
	ctx := ctxFor(t, phase)
	dial := func(org, user string) *testkit.Client {
		return testkit.Dial(ctx, t, n.StreamURL(n.Token(t, org, user, time.Hour, false), nil), nil)
	}
	expect4029 := func(c *testkit.Client) {
		t.Helper()
		_, err := c.ReadFrame(ctx)
		if code := testkit.CloseCode(err); code != 4029 {
			t.Fatalf("over the limit: got %v (code %d), want close 4029 before any frame", err, code)
		}
	}
	a1, a2 := dial("acme", "alice"), dial("acme", "alice")
	a1.ExpectWelcome(ctx)
	a2.ExpectWelcome(ctx)
	expect4029(dial("acme", "alice")) // per user
	dial("globex", "alice").ExpectWelcome(ctx)
	b1 := dial("acme", "bob")
	b1.ExpectWelcome(ctx)
	dial("acme", "carol").ExpectWelcome(ctx) // acme: 4 open
	expect4029(dial("acme", "dave"))         // per org
	dial("globex", "dave").ExpectWelcome(ctx)

	// Closing one of alice's streams frees a slot (once the server saw it).
	a1.Conn.Close(websocket.StatusNormalClosure, "")
	waitFor(t, phase, "a freed slot", func() bool {
		c, _, err := testkit.DialErr(ctx, n.StreamURL(n.Token(t, "acme", "alice", time.Hour, false), nil), nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		rctx, cancel := context.WithTimeout(ctx, phase)
		defer cancel()
		_, err = c.ReadWelcome(rctx)
		if err == nil {
			t.Cleanup(c.Close)
			return true
		}
		c.Close()
		if code := testkit.CloseCode(err); code != 4029 {
			t.Fatalf("got %v, want welcome or 4029", err)
		}
		return false
	})
}
