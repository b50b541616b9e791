package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/transport/auth"
)

// issue signs a subscribe token; unlike testkit.Token it is safe on the
// client's goroutine (TokenFunc).
func issue(secret []byte, org, sub string, ttl time.Duration) (string, error) {
	return auth.Issue(secret, auth.Claims{Sub: sub, Org: org, Exp: time.Now().Add(ttl), Scope: auth.ScopeSubscribe})
}

// PROTOCOL.md "event": a fresh client gets every event published after
// its welcome, in order, with topic, id and data byte for byte; with the
// token in the query or the header, with and without permessage-deflate
// (the big events then arrive compressed).
func TestReceivesInOrder(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	cases := []struct {
		name                string
		header, compression bool
	}{
		{"query token", false, false},
		{"bearer header", true, false},
		{"compression", false, true},
		{"compression and header", true, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			org := fmt.Sprintf("order%d", i)
			cfg := nodeConfig(t, n, org, "alice")
			cfg.UseHeader, cfg.Compression = tc.header, tc.compression
			r := start(t, cfg)
			waitFor(t, "open", func() bool { return r.State() == Open })

			type sent struct{ topic, id, data string }
			var want []sent
			for k := range 30 {
				s := sent{topic: fmt.Sprintf("topic.%d", k%3), data: fmt.Sprintf(`{"k": %d, "pad": "%s"}`, k, strings.Repeat("ab", 1+(k%3)*1000))}
				if k%2 == 0 {
					s.id = fmt.Sprintf("id-%d", k)
				}
				st, b := testkit.Publish(t, n.BaseURL(), org, pub, testkit.EventBody(s.topic, s.data, s.id))
				var a testkit.SeqAnswer
				if err := jsonUnmarshal(b, &a); err != nil || st != 201 || a.Seq != uint64(k+1) {
					t.Fatalf("publish: %d %s, want seq %d", st, b, k+1)
				}
				want = append(want, s)
			}
			waitFor(t, "30 events", func() bool { return r.rec.lastSeq() == 30 })
			checkStream(t, r, 1, 30)
			r.rec.mu.Lock()
			for k, e := range r.rec.events {
				w := want[k]
				if e.Topic != w.topic || e.ID != w.id || string(e.Data) != w.data {
					t.Errorf("event %d: %q %q %.40q, want %q %q %.40q", e.Seq, e.Topic, e.ID, e.Data, w.topic, w.id, w.data)
				}
				if e.TS.IsZero() || e.TS.Location() != time.UTC || time.Since(e.TS) > phase {
					t.Errorf("event %d: ts %v", e.Seq, e.TS)
				}
			}
			w := r.rec.welcomes[0]
			r.rec.mu.Unlock()
			if w.Org != org || w.User != "alice" || w.Epoch != n.Epoch() || w.Resumed || w.ConnID == "" {
				t.Errorf("welcome %+v", w)
			}
			if e, l := r.Position(); e != n.Epoch() || l != 30 {
				t.Errorf("position (%q, %d), want (%q, 30)", e, l, n.Epoch())
			}
		})
	}
}

// PROTOCOL.md close code 4001: with a TokenFunc the client gets a new
// token and resumes at once, with no gap and no duplicate, while events are
// being published. A TokenFunc error is one failed attempt.
func TestTokenRefreshAfter4001(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	const org = "refresh"
	pub := n.Token(t, org, "backend", time.Hour, true)
	var calls atomic.Int32
	cfg := nodeConfig(t, n, org, "alice")
	cfg.Token = ""
	cfg.TokenFunc = func(ctx context.Context) (string, error) {
		switch calls.Add(1) {
		case 1:
			return "", errors.New("vault down")
		case 2:
			return issue(n.Secret, org, "alice", 2*time.Second)
		}
		return issue(n.Secret, org, "alice", time.Hour)
	}
	var mu sync.Mutex
	var actions []action
	r := start(t, cfg, func(c *Client) {
		c.onBackoff = func(a action, _ int, _ time.Duration) { mu.Lock(); actions = append(actions, a); mu.Unlock() }
	})
	waitFor(t, "open", func() bool { return r.State() == Open })
	bg := publishInBackground(t, n.BaseURL(), org, pub)
	waitFor(t, "the 4001 close and a new welcome", func() bool { return r.rec.sawClose(CloseTokenExpired) && r.rec.welcomeCount() >= 2 })
	final := bg.finish(t)
	waitFor(t, "every event", func() bool { return r.rec.lastSeq() >= final })
	checkStream(t, r, 1, final)

	st := r.Stats()
	if st.Resumes < 1 || st.Duplicates != 0 || calls.Load() < 3 {
		t.Fatalf("stats %+v, TokenFunc calls %d", st, calls.Load())
	}
	r.rec.mu.Lock()
	first := r.rec.closes[0]
	r.rec.mu.Unlock()
	if first.code != 0 || first.err == nil || !strings.Contains(first.err.Error(), "vault down") {
		t.Fatalf("first attempt ended with %+v, want the TokenFunc error", first)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(actions) < 2 || actions[0] != actBackoff || actions[1] != actNow {
		t.Fatalf("decisions %v, want backoff (TokenFunc error) then now (4001)", actions)
	}
}

// Errors Run gives up on, each after one attempt.
func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	cases := []struct {
		name   string
		mutate func(*Config)
		is     []error
		status int
		code   string
	}{
		{name: "static token expires: 4001", mutate: func(c *Config) {
			c.Token = n.Token(t, "perm", "alice", 2*time.Second, false)
		}, is: []error{ErrTokenExpired}},
		{name: "invalid static token: 401", mutate: func(c *Config) { c.Token = "not-a-jwt" },
			is: []error{ErrRefused, ErrUnauthorized}, status: 401, code: "invalid_token"},
		{name: "expired static token: 401", mutate: func(c *Config) {
			c.Token, c.UseHeader = n.Token(t, "perm", "alice", -time.Minute, false), true
		}, is: []error{ErrRefused, ErrUnauthorized}, status: 401, code: "token_expired"},
		{name: "bad query: 400", mutate: func(c *Config) { c.URL += "?last_seq=abc" },
			is: []error{ErrRefused}, status: 400, code: "invalid_query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := nodeConfig(t, n, "perm", "alice")
			tc.mutate(&cfg)
			r := start(t, cfg)
			err := r.wait(t)
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("Run: %v, want errors.Is %v", err, target)
				}
			}
			var he *HandshakeError
			if tc.status != 0 && (!errors.As(err, &he) || he.Status != tc.status || he.Code != tc.code || !he.Permanent) {
				t.Errorf("Run: %#v, want a permanent refusal %d %s", err, tc.status, tc.code)
			}
			if st := r.Stats(); st.Dials != 1 {
				t.Errorf("%d dials, want 1", st.Dials)
			}
			if r.State() != Closed {
				t.Errorf("state %v after Run", r.State())
			}
		})
	}
}

// PROTOCOL.md "Resume": a position the server can serve is resumed (the
// missed events are replayed); one it cannot gets a reset, after which
// the client continues live from the reset's head.
func TestResumeAndReset(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	cases := []struct {
		name   string
		epoch  string // "current": the node's
		last   uint64
		reason string // "" for a resume
	}{
		{name: "resume", epoch: "current", last: 2},
		{name: "resume without epoch", epoch: "", last: 4},
		{name: "wrong epoch", epoch: "bogus", last: 3, reason: "epoch_changed"},
		{name: "beyond head", epoch: "current", last: 99, reason: "invalid_position"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			org := fmt.Sprintf("reset%d", i)
			testkit.PublishBatch(t, n.BaseURL(), org, pub, "x", 5)
			cfg := nodeConfig(t, n, org, "alice")
			cfg.Epoch, cfg.LastSeq, cfg.Resume = tc.epoch, tc.last, true
			if tc.epoch == "current" {
				cfg.Epoch = n.Epoch()
			}
			r := start(t, cfg)
			waitFor(t, "open", func() bool { return r.State() == Open })
			from := tc.last + 1
			if tc.reason != "" {
				waitFor(t, "the reset", func() bool { return r.Stats().Resets == 1 })
				r.rec.mu.Lock()
				got := r.rec.resets[0]
				r.rec.mu.Unlock()
				if got.Reason != tc.reason || got.Head != 5 {
					t.Fatalf("reset %+v, want %s with head 5", got, tc.reason)
				}
				if e, l := r.Position(); e != n.Epoch() || l != 5 {
					t.Fatalf("position after the reset (%q, %d), want (%q, 5)", e, l, n.Epoch())
				}
				from = 6
			}
			testkit.PublishBatch(t, n.BaseURL(), org, pub, "y", 2)
			waitFor(t, "event 7", func() bool { return r.rec.lastSeq() == 7 })
			checkStream(t, r, from, 7)
			st := r.Stats()
			if want := uint64(0); tc.reason == "" && (st.Resumes != 1 || st.Resets != want) {
				t.Fatalf("stats %+v, want 1 resume", st)
			}
		})
	}
}

// PROTOCOL.md close code 1001: a draining node closes the stream; the
// client keeps trying (the node is gone) and resumes without a gap on the
// node that restarts on the same store and address.
func TestResumeAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n1 := testkit.StartNode(t, func(c *node.Config) { c.DataDir = dir })
	pub := n1.Token(t, "acme", "backend", time.Hour, true)
	r := start(t, nodeConfig(t, n1, "acme", "alice"))
	waitFor(t, "open", func() bool { return r.State() == Open })
	testkit.PublishBatch(t, n1.BaseURL(), "acme", pub, "x", 10)
	waitFor(t, "10 events", func() bool { return r.rec.lastSeq() == 10 })

	n1.Stop(t)
	waitFor(t, "the 1001 close", func() bool { return r.rec.sawClose(CloseGoingAway) })
	n2 := testkit.StartNode(t, func(c *node.Config) {
		c.DataDir, c.Listen, c.JWTSecret = dir, n1.Addr(), n1.Secret
	})
	waitFor(t, "a resumed welcome", func() bool { return r.Stats().Resumes == 1 })
	testkit.PublishBatch(t, n2.BaseURL(), "acme", pub, "y", 10)
	waitFor(t, "20 events", func() bool { return r.rec.lastSeq() == 20 })
	checkStream(t, r, 1, 20)
	if e, _ := r.Position(); e != n2.Epoch() || e != n1.Epoch() {
		t.Fatalf("epoch %q, nodes %q and %q", e, n1.Epoch(), n2.Epoch())
	}
	r.rec.mu.Lock()
	states := append([]State(nil), r.rec.states...)
	r.rec.mu.Unlock()
	if states[0] != Connecting || states[1] != Open || states[2] != Resuming || states[len(states)-1] != Open {
		t.Fatalf("states %v", states)
	}
}

// PROTOCOL.md close code 4029: a client over --max-conns-per-user backs off
// from BackoffTooMany (at least half of it each time, doubling), and gets
// in once a slot frees.
func TestTooManyBacksOff(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.MaxConnsPerUser = 1 })
	a := start(t, nodeConfig(t, n, "acme", "alice"))
	waitFor(t, "a open", func() bool { return a.State() == Open })

	type decision struct {
		a       action
		attempt int
		d       time.Duration
	}
	var mu sync.Mutex
	var ds []decision
	cfg := nodeConfig(t, n, "acme", "alice")
	cfg.BackoffTooMany, cfg.BackoffMax = 100*time.Millisecond, 400*time.Millisecond
	b := start(t, cfg, func(c *Client) {
		c.onBackoff = func(a action, attempt int, d time.Duration) {
			mu.Lock()
			ds = append(ds, decision{a, attempt, d})
			mu.Unlock()
		}
	})
	waitFor(t, "three refusals", func() bool { mu.Lock(); defer mu.Unlock(); return len(ds) >= 3 })
	mu.Lock()
	for i, d := range ds[:3] {
		ceiling := expo(100*time.Millisecond, 400*time.Millisecond, i)
		if d.a != actTooMany || d.attempt != i || d.d < ceiling/2 || d.d >= ceiling {
			t.Errorf("decision %d: %+v, want too-many backoff in [%v, %v)", i, d, ceiling/2, ceiling)
		}
	}
	mu.Unlock()
	for _, c := range b.rec.closeCodes() {
		if c != CloseTooMany {
			t.Fatalf("b's connections ended with %v, want 4029 only", b.rec.closeCodes())
		}
	}
	if b.Stats().Welcomes != 0 {
		t.Fatalf("b got a welcome while a was open")
	}
	a.Close()
	if err := a.wait(t); err != nil {
		t.Fatalf("a: Run after Close: %v", err)
	}
	waitFor(t, "b open once a left", func() bool { return b.State() == Open })
}

// PROTOCOL.md close code 4008: a client whose OnEvent blocks falls behind
// a flood and is cut; it reconnects at once and resumes without a gap.
func TestSlowConsumerResumes(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.MaxQueueBytes = messages.MaxPublishFrames })
	const org = "flood"
	pub := n.Token(t, org, "backend", time.Hour, true)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	cfg := nodeConfig(t, n, org, "slow")
	var blocked sync.Once
	cfg.OnEvent = func(Event) { blocked.Do(func() { <-release }) }
	// A small receive buffer makes the socket back up after a few KiB.
	cfg.Dialer = &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
		})
		return errors.Join(err, serr)
	}}
	var mu sync.Mutex
	var actions []action
	r := start(t, cfg, func(c *Client) {
		c.onBackoff = func(a action, _ int, _ time.Duration) { mu.Lock(); actions = append(actions, a); mu.Unlock() }
	})
	t.Cleanup(unblock) // before Run's end is awaited
	waitFor(t, "open", func() bool { return r.State() == Open })

	data := `{"pad":"` + strings.Repeat("x", 1000) + `"}`
	batch := `{"events":[` + strings.Repeat(testkit.EventBody("flood", data, "")+",", 19) + testkit.EventBody("flood", data, "") + `]}`
	var published uint64
	for extra := 0; published < 8<<10 && extra < 5; {
		st, b := testkit.Publish(t, n.BaseURL(), org, pub, batch)
		if st != 201 {
			t.Fatalf("publish: %d %s", st, b)
		}
		var a testkit.SeqAnswer
		if err := jsonUnmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
		published = a.Seqs[len(a.Seqs)-1]
		if n.Metrics().SlowConsumerCuts.Load() > 0 {
			extra++
		}
	}
	// Delivery may trail the acknowledgements (the live feed): wait for
	// the cut rather than check at once.
	cutWait := time.Now()
	waitFor(t, fmt.Sprintf("a slow consumer cut after %d events", published), func() bool {
		return n.Metrics().SlowConsumerCuts.Load() > 0
	})
	t.Logf("cut %v after the last acknowledgement", time.Since(cutWait).Round(time.Millisecond))
	unblock()
	waitFor(t, "every event", func() bool { return r.rec.lastSeq() == published })
	checkStream(t, r, 1, published)
	if !r.rec.sawClose(CloseSlowConsumer) {
		t.Fatalf("connection ends %v, want a 4008", r.rec.closeCodes())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(actions) == 0 || actions[0] != actNow {
		t.Fatalf("decisions %v, want an immediate reconnect after 4008", actions)
	}
	t.Logf("published %d, duplicates dropped %d, connection ends %v", published, r.Stats().Duplicates, r.rec.closeCodes())
}

// PROTOCOL.md "Heartbeat": the client answers the server's pings, so an
// idle stream stays open over many ping intervals.
func TestPingsAnswered(t *testing.T) {
	t.Parallel()
	// The server closes a client silent for 2 intervals and pings up to 1.5
	// intervals apart: the interval leaves a loaded -race run 150ms to answer.
	const interval = 300 * time.Millisecond
	n := testkit.StartNode(t, func(c *node.Config) { c.PingInterval = interval })
	r := start(t, nodeConfig(t, n, "idle", "alice"))
	waitFor(t, "open", func() bool { return r.State() == Open })
	time.Sleep(10 * interval) // five times what a mute client survives
	if codes := r.rec.closeCodes(); len(codes) != 0 || r.State() != Open {
		t.Fatalf("idle stream ended: %v (state %v)", codes, r.State())
	}
}

// Close and the end of Run's context both close the stream with 1000.
func TestCloseAndCancel(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	pub := n.Token(t, "*", "backend", time.Hour, true)

	t.Run("Close", func(t *testing.T) {
		r := start(t, nodeConfig(t, n, "close", "alice"))
		waitFor(t, "open", func() bool { return r.State() == Open })
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.wait(t); err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
		_ = r.Close() // twice is fine
		r.rec.mu.Lock()
		closes, states := r.rec.closes, r.rec.states
		r.rec.mu.Unlock()
		if len(closes) != 1 || closes[0].code != CloseNormal || closes[0].err != nil {
			t.Fatalf("closes %+v, want one 1000 without error", closes)
		}
		if fmt.Sprint(states) != "[connecting open closed]" {
			t.Fatalf("states %v", states)
		}
		if err := r.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v", err)
		}
	})
	t.Run("Close from OnEvent", func(t *testing.T) {
		var c *Client
		cfg := nodeConfig(t, n, "close-cb", "alice")
		cfg.OnEvent = func(e Event) {
			if e.Seq == 3 {
				c.Close()
			}
		}
		r := start(t, cfg, func(cl *Client) { c = cl })
		waitFor(t, "open", func() bool { return r.State() == Open })
		testkit.PublishBatch(t, n.BaseURL(), "close-cb", pub, "x", 10)
		if err := r.wait(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, l := r.Position(); l < 3 {
			t.Fatalf("position %d, want at least 3", l)
		}
	})
	t.Run("context", func(t *testing.T) {
		r := start(t, nodeConfig(t, n, "cancel", "alice"))
		waitFor(t, "open", func() bool { return r.State() == Open })
		r.cancel()
		if err := r.wait(t); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after cancel: %v", err)
		}
	})
	t.Run("Close before Run", func(t *testing.T) {
		c, err := New(nodeConfig(t, n, "never", "alice"))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := c.Run(context.Background()); err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	})
	waitFor(t, "the server to see every stream closed", func() bool { return n.Metrics().Connections.Load() == 0 })
}

// Config.Dialer's LocalAddr picks the source address (the benchmark
// spreads its connections over 127.0.0.x).
func TestDialerLocalAddr(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	var local atomic.Value
	cfg := nodeConfig(t, n, "local", "alice")
	cfg.Dialer = &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
		Control: func(_, address string, _ syscall.RawConn) error {
			local.Store(address)
			return nil
		},
	}
	r := start(t, cfg)
	waitFor(t, "open", func() bool { return r.State() == Open })
	if got := local.Load(); got != n.Addr() {
		t.Fatalf("dialed %v, want %s", got, n.Addr())
	}
}

func TestNewInvalid(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Token: "t"},
		{URL: "http://127.0.0.1:1/v2/realtime/stream", Token: "t"},
		{URL: "ws:///v2/realtime/stream", Token: "t"},
		{URL: "ws://127.0.0.1:1/v2/realtime/stream"},
		{URL: "ws://127.0.0.1:1/", Token: "t", BackoffMin: time.Second, BackoffMax: time.Millisecond},
		{URL: "ws://%zz", Token: "t"},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := New(Config{URL: "wss://example.invalid/x", TokenFunc: func(context.Context) (string, error) { return "", nil }}); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// The client never puts its token in an error it reports.
func TestNoTokenInErrors(t *testing.T) {
	t.Parallel()
	const secret = "sEcReT-tOkEn"
	cfg := Config{URL: "ws://127.0.0.1:1/v2/realtime/stream", Token: secret, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond}
	var mu sync.Mutex
	var errs []error
	cfg.OnClose = func(_ int, _ string, err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = c.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	failed := 0
	for _, e := range errs {
		if e == nil {
			continue // the attempt the context's end interrupted
		}
		failed++
		if bytes.Contains([]byte(e.Error()), []byte(secret)) {
			t.Fatalf("attempt error %v", e)
		}
	}
	if failed == 0 {
		t.Fatal("no failed attempt")
	}
}
