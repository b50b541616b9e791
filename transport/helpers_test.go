package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/transport/auth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testVerifier verifies the tokens signed with testSecret (HS256 only: it
// has no goroutine to stop).
var testVerifier = func() *auth.Verifier {
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: testSecret})
	if err != nil {
		panic(err)
	}
	return v
}()

// testPublisher is an in-test Publisher: seqs count up per org unless fn
// decides otherwise.
type testPublisher struct {
	mu    sync.Mutex
	heads map[string]uint64
	calls []publishCall
	fn    func(ctx context.Context, org string, drafts []messages.Draft) ([]uint64, bool, error)
}

type publishCall struct {
	org    string
	drafts []messages.Draft
}

func (p *testPublisher) Publish(ctx context.Context, org string, drafts []messages.Draft) ([]uint64, bool, error) {
	p.mu.Lock()
	p.calls = append(p.calls, publishCall{org: org, drafts: drafts})
	fn := p.fn
	p.mu.Unlock()
	if fn != nil {
		return fn(ctx, org, drafts)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.heads == nil {
		p.heads = make(map[string]uint64)
	}
	seqs := make([]uint64, len(drafts))
	for i := range drafts {
		p.heads[org]++
		seqs[i] = p.heads[org]
	}
	return seqs, false, nil
}

func (p *testPublisher) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// testStreams is an in-test Streams: it greets each stream with a text frame
// "hello ORG USER", echoes client data frames as "echo:DATA", and closes when
// the client closes (or after 5 s).
type testStreams struct {
	wg     sync.WaitGroup
	opened chan openedStream
}

type openedStream struct {
	st  Stream
	raw bool // conn was the *net.TCPConn itself
}

func newTestStreams() *testStreams { return &testStreams{opened: make(chan openedStream, 64)} }

func (ts *testStreams) Open(conn net.Conn, st Stream) {
	_, raw := conn.(*net.TCPConn)
	select {
	case ts.opened <- openedStream{st: st, raw: raw}:
	default:
	}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := ws.WriteFrame(conn, ws.NewTextFrame([]byte("hello "+st.Org+" "+st.User))); err != nil {
			return
		}
		for {
			data, op, err := wsutil.ReadClientData(conn)
			if err != nil {
				return
			}
			if err := wsutil.WriteServerMessage(conn, op, append([]byte("echo:"), data...)); err != nil {
				return
			}
		}
	}()
}

func (ts *testStreams) expectOpened(t *testing.T) openedStream {
	t.Helper()
	select {
	case o := <-ts.opened:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no stream opened")
		return openedStream{}
	}
}

func (ts *testStreams) expectNone(t *testing.T) {
	t.Helper()
	select {
	case o := <-ts.opened:
		t.Fatalf("unexpected stream opened: %+v", o.st)
	default:
	}
}

// testReadiness is a settable Readiness.
type testReadiness struct{ err atomic.Pointer[error] }

func (r *testReadiness) Ready() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *testReadiness) set(err error) {
	if err == nil {
		r.err.Store(nil)
		return
	}
	r.err.Store(&err)
}

type testEnv struct {
	srv     *Server
	addr    string
	pub     *testPublisher
	streams *testStreams
	ready   *testReadiness
	metrics *metrics.Metrics
	client  *http.Client
}

// newTestEnv starts a Server on 127.0.0.1:0 with in-test ports; mod may
// adjust the Config first. Everything is stopped at cleanup.
func newTestEnv(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{
		pub:     &testPublisher{},
		streams: newTestStreams(),
		ready:   &testReadiness{},
		metrics: metrics.New(),
	}
	cfg := Config{
		Listen:    "127.0.0.1:0",
		Verifier:  testVerifier,
		Publisher: env.pub,
		Streams:   env.streams,
		Readiness: env.ready,
		Metrics:   env.metrics,
		Logger:    zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartNATS(); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	env.srv, env.addr = srv, srv.Addr()
	env.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		env.streams.wg.Wait()
	})
	return env
}

func (env *testEnv) url(path string) string { return "http://" + env.addr + path }

// issue signs a token for tests.
func issue(t testing.TB, org, sub, scope string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Issue(testSecret, auth.Claims{Sub: sub, Org: org, Scope: scope, Exp: time.Now().Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawExchange sends req on a new connection and reads one response. The
// connection is closed before returning.
func rawExchange(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// upgradeRequest builds a raw WebSocket upgrade request for target with the
// extra header lines (each "Name: value").
func upgradeRequest(target string, extra ...string) string {
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\n")
	b.WriteString("Host: 127.0.0.1\r\n")
	b.WriteString("Upgrade: websocket\r\n")
	b.WriteString("Connection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
	b.WriteString("Sec-WebSocket-Version: 13\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// checkErrorBody asserts a JSON error body with the given code.
func checkErrorBody(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var eb struct {
		Error *string `json:"error"`
		Code  *string `json:"code"`
	}
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if eb.Error == nil || *eb.Error == "" {
		t.Errorf("body %s has no error message", body)
	}
	if eb.Code == nil || *eb.Code != code {
		t.Errorf("body %s: code want %q", body, code)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
