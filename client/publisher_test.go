package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// dropProxy forwards TCP connections on loopback to a daemon. The first
// `drops` connections forward the request, wait until the daemon starts
// answering (so the event is stored: the daemon answers after the append)
// and then reset the client's side without passing the answer on: the
// client sees a network error for a publish that succeeded.
type dropProxy struct {
	ln      net.Listener
	backend string
	drops   atomic.Int32
	conns   atomic.Int32
	wg      sync.WaitGroup
}

func startDropProxy(t *testing.T, backend string, drops int32) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, backend: backend}
	p.drops.Store(drops)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			drop := p.drops.Add(-1) >= 0
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c, drop) }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) serve(c net.Conn, drop bool) {
	defer c.Close()
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer b.Close()
	go func() { _, _ = io.Copy(b, c); _ = b.(*net.TCPConn).CloseWrite() }()
	if !drop {
		_, _ = io.Copy(c, b)
		return
	}
	one := make([]byte, 1)
	_, _ = io.ReadFull(b, one) // the daemon answers: the event is stored
	_ = c.(*net.TCPConn).SetLinger(0)
}

// URL is the proxy's base URL.
func (p *dropProxy) URL() string { return "http://" + p.ln.Addr().String() }

// countingTransport counts the requests sent.
type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func testPublisher(t *testing.T, base, org, token string, rt http.RoundTripper) *Publisher {
	t.Helper()
	cfg := PublisherConfig{URL: base, Org: org, Token: token, BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
	if rt != nil {
		cfg.HTTPClient = &http.Client{Transport: rt}
	}
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// storedEvents replays org from seq 1 and returns its first n events,
// failing if the log holds any other number.
func storedEvents(t *testing.T, n *testkit.Node, org string, want int) []testkit.Frame {
	t.Helper()
	head, epoch := n.Head(t, org)
	if head != uint64(want) {
		t.Fatalf("org %s holds %d events, want %d", org, head, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), phase)
	defer cancel()
	c := testkit.Dial(ctx, t, n.ResumeURL(n.Token(t, org, "check", time.Minute, false), 0, epoch), nil)
	defer c.Close()
	c.ExpectWelcome(ctx)
	evs, err := c.CollectEvents(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestPublisherAssignsIDs: every event goes out with an id, a fresh one
// per event unless the caller gave one, and the daemon stores it.
func TestPublisherAssignsIDs(t *testing.T) {
	n := testkit.StartNode(t, nil)
	p := testPublisher(t, n.BaseURL(), "acme", n.Token(t, "acme", "pub", time.Hour, true), nil)
	ctx := context.Background()
	a, err := p.Publish(ctx, Message{Topic: "t", Data: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.PublishBatch(ctx, []Message{
		{Topic: "t", Data: json.RawMessage(`1`)},
		{Topic: "t", Data: json.RawMessage(`2`), ID: "mine"},
		{Topic: "t", Data: json.RawMessage(`3`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 1 || a.Duplicate || a.Attempts != 1 || len(a.ID) != 26 {
		t.Fatalf("single ack %+v", a)
	}
	if b.Duplicate || len(b.Seqs) != 3 || b.Seqs[0] != 2 || b.Seqs[2] != 4 || b.IDs[1] != "mine" {
		t.Fatalf("batch ack %+v", b)
	}
	ids := append([]string{a.ID}, b.IDs...)
	seen := map[string]bool{}
	for i, e := range storedEvents(t, n, "acme", 4) {
		if e.ID != ids[i] || e.ID == "" || seen[e.ID] {
			t.Fatalf("event %d stored with id %q, sent %q (ids %v)", e.Seq, e.ID, ids[i], ids)
		}
		seen[e.ID] = true
	}
}

// TestPublisherRetryAfterLostAnswer: the first attempt reaches the daemon
// and is stored, but its answer is lost on the way back (a proxy resets the
// connection). The retry carries the same ids, so it gets the same seqs
// (200, duplicate) and the log holds each event once. Without ids the retry
// would store them again.
func TestPublisherRetryAfterLostAnswer(t *testing.T) {
	n := testkit.StartNode(t, nil)
	for _, batch := range []int{0, 3} {
		org := "single"
		if batch > 0 {
			org = "batch"
		}
		t.Run(org, func(t *testing.T) {
			token := n.Token(t, org, "pub", time.Hour, true)
			px := startDropProxy(t, n.Addr(), 1)
			p := testPublisher(t, px.URL(), org, token, nil)
			var seqs []uint64
			var dup bool
			var attempts int
			if batch == 0 {
				a, err := p.Publish(context.Background(), Message{Topic: "t", Data: json.RawMessage(`"x"`)})
				if err != nil {
					t.Fatal(err)
				}
				seqs, dup, attempts = []uint64{a.Seq}, a.Duplicate, a.Attempts
			} else {
				ms := make([]Message, batch)
				for i := range ms {
					ms[i] = Message{Topic: "t", Data: json.RawMessage(`"x"`)}
				}
				a, err := p.PublishBatch(context.Background(), ms)
				if err != nil {
					t.Fatal(err)
				}
				seqs, dup, attempts = a.Seqs, a.Duplicate, a.Attempts
			}
			want := max(batch, 1)
			if !dup || attempts != 2 || px.conns.Load() != 2 {
				t.Fatalf("duplicate %v after %d attempts over %d connections; want a 200 duplicate on the 2nd", dup, attempts, px.conns.Load())
			}
			testkit.AssertRange(t, seqs, 1, uint64(want))
			storedEvents(t, n, org, want)
		})
	}
}

// TestPublisherRetriesOutcomeUnknown: a 503 outcome_unknown after the
// daemon stored the event (simulated by a proxy that forwards the first
// request and answers 503 in place of the daemon's 201) is retried with the
// same id and gets the first seq.
func TestPublisherRetriesOutcomeUnknown(t *testing.T) {
	n := testkit.StartNode(t, nil)
	var calls atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, n.BaseURL()+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"the log did not answer in time","code":"outcome_unknown"}`))
			return
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	defer front.Close()
	defer http.DefaultClient.CloseIdleConnections()
	p := testPublisher(t, front.URL, "acme", n.Token(t, "acme", "pub", time.Hour, true), nil)
	a, err := p.Publish(context.Background(), Message{Topic: "t", Data: json.RawMessage(`1`)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 1 || !a.Duplicate || a.Attempts != 2 {
		t.Fatalf("ack %+v, want seq 1, duplicate, 2 attempts", a)
	}
	storedEvents(t, n, "acme", 1)
}

// TestPublisherDoesNotRetry4xx: a refusal is final: one request, an error
// that errors.Is ErrPublishRefused with the daemon's status and code.
func TestPublisherDoesNotRetry4xx(t *testing.T) {
	n := testkit.StartNode(t, nil)
	cases := []struct {
		name   string
		token  string
		msg    Message
		status int
		code   string
	}{
		{"bad topic", n.Token(t, "acme", "pub", time.Hour, true), Message{Topic: "no spaces", Data: json.RawMessage(`1`)}, 400, "invalid_topic"},
		{"subscribe token", n.Token(t, "acme", "sub", time.Hour, false), Message{Topic: "t", Data: json.RawMessage(`1`)}, 403, "forbidden"},
		{"other org", n.Token(t, "other", "pub", time.Hour, true), Message{Topic: "t", Data: json.RawMessage(`1`)}, 403, "forbidden"},
		{"bad token", "not-a-jwt", Message{Topic: "t", Data: json.RawMessage(`1`)}, 401, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := &countingTransport{next: http.DefaultTransport}
			p := testPublisher(t, n.BaseURL(), "acme", tc.token, rt)
			_, err := p.Publish(context.Background(), tc.msg)
			var pe *PublishError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPublishRefused) || errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("err %v, want a refusal", err)
			}
			if pe.Status != tc.status || pe.Code != tc.code || pe.Attempts != 1 || rt.n.Load() != 1 || len(pe.IDs) != 1 {
				t.Fatalf("%+v after %d requests, want %d %s once", pe, rt.n.Load(), tc.status, tc.code)
			}
		})
	}
	if head, _ := n.Head(t, "acme"); head != 0 {
		t.Fatalf("head %d after refusals", head)
	}
}

// TestPublisherGivesUp: a daemon that cannot be reached is retried until
// RetryFor, and the error says the outcome is unknown and gives the ids.
func TestPublisherGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused
	rt := &countingTransport{next: http.DefaultTransport}
	p, err := NewPublisher(PublisherConfig{URL: "http://" + addr, Org: "acme", Token: "x",
		HTTPClient: &http.Client{Transport: rt}, RetryFor: 300 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.PublishBatch(context.Background(), []Message{{Topic: "t", ID: "a"}, {Topic: "t"}})
	var pe *PublishError
	if !errors.As(err, &pe) || !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrPublishRefused) {
		t.Fatalf("err %v", err)
	}
	if pe.Attempts < 2 || int(rt.n.Load()) != pe.Attempts || pe.IDs[0] != "a" || pe.IDs[1] == "" {
		t.Fatalf("%+v after %d requests", pe, rt.n.Load())
	}
}

func TestPublisherInvalid(t *testing.T) {
	for _, cfg := range []PublisherConfig{
		{Org: "a", Token: "x", URL: "ws://h:1"},
		{Org: "", Token: "x", URL: "http://h:1"},
		{Org: "a", URL: "http://h:1"},
		{Org: "a", Token: "x", URL: "http://h:1", RetryFor: 3 * time.Minute},
	} {
		if _, err := NewPublisher(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err %v", cfg, err)
		}
	}
	p, err := NewPublisher(PublisherConfig{Org: "a", Token: "x", URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]Message, MaxBatch+1)
	for name, f := range map[string]func() error{
		"no topic": func() error {
			_, err := p.Publish(context.Background(), Message{Data: json.RawMessage(`1`)})
			return err
		},
		"bad data": func() error {
			_, err := p.Publish(context.Background(), Message{Topic: "t", Data: json.RawMessage(`{`)})
			return err
		},
		"space id":   func() error { _, err := p.Publish(context.Background(), Message{Topic: "t", ID: " x"}); return err },
		"empty":      func() error { _, err := p.PublishBatch(context.Background(), nil); return err },
		"over limit": func() error { _, err := p.PublishBatch(context.Background(), big); return err },
	} {
		if err := f(); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func TestRetryableStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   bool
	}{{400, false}, {401, false}, {403, false}, {404, false}, {413, false}, {408, true}, {429, true},
		{500, true}, {502, true}, {503, true}, {504, true}} {
		if got := retryableStatus(tc.status); got != tc.want {
			t.Errorf("%d: %v", tc.status, got)
		}
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := NewID()
		if seen[id] || validID(id) != nil {
			t.Fatalf("id %q repeated or invalid", id)
		}
		seen[id] = true
	}
}

// TestPublisherStopsWithContext: the caller's context ends the retries at
// once, with the ids and an unknown outcome (an attempt was sent).
func TestPublisherStopsWithContext(t *testing.T) {
	n := testkit.StartNode(t, nil)
	px := startDropProxy(t, n.Addr(), 1000) // every answer is lost
	p := testPublisher(t, px.URL(), "acme", n.Token(t, "acme", "pub", time.Hour, true), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Publish(ctx, Message{Topic: "t", Data: json.RawMessage(`1`), ID: "k"})
	var pe *PublishError
	if !errors.As(err, &pe) || !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) || pe.IDs[0] != "k" {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > phase/2 {
		t.Fatalf("Publish returned %v after its context ended", time.Since(start))
	}
	// Every attempt reached the daemon; the id stored the event once.
	storedEvents(t, n, "acme", 1)
}
