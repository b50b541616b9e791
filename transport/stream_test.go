package transport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func dialStream(t *testing.T, env *testEnv, query string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPClient = env.client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws://"+env.addr+StreamPath+query, opts)
}

// readHello reads the greeting of testStreams and closes normally.
func readHello(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, msg, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageText || string(msg) != want {
		t.Fatalf("got %v %q, want text %q", typ, msg, want)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err = c.Read(ctx); err != nil || string(msg) != "echo:ping" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestStreamAcceptedWithQueryToken(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "alice", "", time.Hour)
	c, resp, err := dialStream(t, env, "?access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	o := env.streams.expectOpened(t)
	readHello(t, c, "hello acme alice")
	st := o.st
	if st.Org != "acme" || st.User != "alice" || st.Resume || st.LastSeq != 0 || st.Epoch != "" || st.Deflate {
		t.Fatalf("stream %+v", st)
	}
	if d := time.Until(st.Expiry); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expiry in %v", d)
	}
	if !strings.HasPrefix(st.RemoteAddr, "127.0.0.1:") {
		t.Fatalf("remote %q", st.RemoteAddr)
	}
	if !o.raw {
		t.Fatal("Streams got a wrapper although nothing followed the handshake")
	}
}

func TestStreamAcceptedWithHeaderToken(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "bob", "publish", time.Hour)
	c, _, err := dialStream(t, env, "?last_seq=41&epoch=e-41a", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := env.streams.expectOpened(t)
	readHello(t, c, "hello acme bob")
	if !o.st.Resume || o.st.LastSeq != 41 || o.st.Epoch != "e-41a" {
		t.Fatalf("stream %+v", o.st)
	}
}

func TestStreamHeaderTokenWinsOverQuery(t *testing.T) {
	env := newTestEnv(t, nil)
	good := issue(t, "acme", "bob", "", time.Hour)
	c, _, err := dialStream(t, env, "?access_token=garbage", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"bearer " + good}},
	})
	if err != nil {
		t.Fatal(err)
	}
	env.streams.expectOpened(t)
	readHello(t, c, "hello acme bob")
}

func TestStreamGobwasDialer(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "carol", "", time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(ctx, "ws://"+env.addr+StreamPath+"?access_token="+tok)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	msg, err := wsutil.ReadServerText(struct {
		io.Reader
		io.Writer
	}{r, conn})
	if err != nil || string(msg) != "hello acme carol" {
		t.Fatalf("got %q %v", msg, err)
	}
	_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	env.streams.expectOpened(t)
}

func TestStreamRefusals(t *testing.T) {
	valid := issue(t, "acme", "alice", "", time.Hour)
	wrongKey := func() string {
		t.Helper()
		tok := issue(t, "acme", "alice", "", time.Hour)
		return tok[:len(tok)-4] + "AAAA"
	}()
	expired := issue(t, "acme", "alice", "", -time.Minute)
	anyOrg := issue(t, "*", "pub", "publish", time.Hour)
	q := "?access_token=" + valid

	tests := []struct {
		name    string
		ready   error
		req     string
		status  int
		code    string
		headers map[string]string
	}{
		{
			name:   "not ready",
			ready:  io.ErrUnexpectedEOF,
			req:    upgradeRequest(StreamPath + q),
			status: 503,
			code:   CodeNotReady,
		},
		{
			name:   "draining",
			ready:  ErrDraining,
			req:    upgradeRequest(StreamPath + q),
			status: 503,
			code:   CodeDraining,
		},
		{
			name:   "negative last_seq",
			req:    upgradeRequest(StreamPath + q + "&last_seq=-1"),
			status: 400,
			code:   CodeInvalidQuery,
		},
		{
			name:   "non-numeric last_seq",
			req:    upgradeRequest(StreamPath + q + "&last_seq=abc"),
			status: 400,
			code:   CodeInvalidQuery,
		},
		{
			name:   "overflowing last_seq",
			req:    upgradeRequest(StreamPath + q + "&last_seq=99999999999999999999"),
			status: 400,
			code:   CodeInvalidQuery,
		},
		{
			name:   "duplicate last_seq",
			req:    upgradeRequest(StreamPath + q + "&last_seq=1&last_seq=1"),
			status: 400,
			code:   CodeInvalidQuery,
		},
		{
			name:   "empty last_seq",
			req:    upgradeRequest(StreamPath + q + "&last_seq="),
			status: 400,
			code:   CodeInvalidQuery,
		},
		{
			name:   "missing token",
			req:    upgradeRequest(StreamPath),
			status: 401,
			code:   CodeMissingToken,
		},
		{
			name:   "garbage token",
			req:    upgradeRequest(StreamPath + "?access_token=not-a-jwt"),
			status: 401,
			code:   CodeInvalidToken,
		},
		{
			name:   "bad signature",
			req:    upgradeRequest(StreamPath + "?access_token=" + wrongKey),
			status: 401,
			code:   CodeInvalidToken,
		},
		{
			name:   "expired token",
			req:    upgradeRequest(StreamPath + "?access_token=" + expired),
			status: 401,
			code:   CodeTokenExpired,
		},
		{
			name:   "expired token in header",
			req:    upgradeRequest(StreamPath, "Authorization: Bearer "+expired),
			status: 401,
			code:   CodeTokenExpired,
		},
		{
			name:   "token for every org cannot subscribe",
			req:    upgradeRequest(StreamPath + "?access_token=" + anyOrg),
			status: 403,
			code:   CodeForbidden,
		},
		{
			name:   "origin not allowed",
			req:    upgradeRequest(StreamPath+q, "Origin: https://evil.example"),
			status: 403,
			code:   CodeOriginNotAllowed,
		},
		{
			name:    "unsupported version",
			req:     strings.Replace(upgradeRequest(StreamPath+q), "Version: 13", "Version: 8", 1),
			status:  426,
			code:    CodeBadVersion,
			headers: map[string]string{"Sec-WebSocket-Version": "13"},
		},
		{
			name:   "missing key",
			req:    strings.Replace(upgradeRequest(StreamPath+q), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1),
			status: 400,
			code:   CodeBadHandshake,
		},
		{
			name:    "no Connection: upgrade",
			req:     strings.Replace(upgradeRequest(StreamPath+q), "Connection: Upgrade", "Connection: keep-alive", 1),
			status:  426,
			code:    CodeUpgradeRequired,
			headers: map[string]string{"Upgrade": "websocket"},
		},
		{
			name:   "malformed extensions",
			req:    upgradeRequest(StreamPath+q, "Sec-WebSocket-Extensions: permessage-deflate; ="),
			status: 400,
			code:   CodeBadHandshake,
		},
	}
	env := newTestEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example"} })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.ready.set(tt.ready)
			defer env.ready.set(nil)
			before := env.metrics.ConnectionsRefused.Load()
			resp, body := rawExchange(t, env.addr, tt.req)
			checkErrorBody(t, resp, body, tt.status, tt.code)
			if !resp.Close {
				t.Error("refusal without Connection: close")
			}
			if resp.Header.Get("Sec-WebSocket-Accept") != "" {
				t.Error("refusal carries Sec-WebSocket-Accept")
			}
			for k, v := range tt.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			env.streams.expectNone(t)
			if env.metrics.ConnectionsRefused.Load() != before+1 {
				t.Error("ConnectionsRefused not bumped")
			}
		})
	}
}

func TestStreamRefusalWithRealClient(t *testing.T) {
	env := newTestEnv(t, nil)
	_, resp, err := dialStream(t, env, "?access_token=nope", nil)
	if err == nil {
		t.Fatal("dial succeeded")
	}
	if resp == nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	checkErrorBody(t, resp, body, 401, CodeInvalidToken)
}

func TestStreamOrigin(t *testing.T) {
	tok := issue(t, "acme", "alice", "", time.Hour)
	tests := []struct {
		name    string
		allowed []string
		origin  string // "" = no Origin header
		status  int
	}{
		{
			name:    "absent origin allowed",
			allowed: []string{"https://app.example"},
			status:  101,
		},
		{
			name:    "listed origin",
			allowed: []string{"https://other.example", "https://app.example"},
			origin:  "https://app.example",
			status:  101,
		},
		{
			name:    "listed origin, other case",
			allowed: []string{"https://app.example"},
			origin:  "HTTPS://APP.EXAMPLE",
			status:  101,
		},
		{
			name:    "unlisted origin",
			allowed: []string{"https://app.example"},
			origin:  "https://evil.example",
			status:  403,
		},
		{
			name:    "null origin",
			allowed: []string{"https://app.example"},
			origin:  "null",
			status:  403,
		},
		{
			name:    "star allows all",
			allowed: []string{"*"},
			origin:  "https://evil.example",
			status:  101,
		},
		{
			name:   "empty list allows all",
			origin: "https://evil.example",
			status: 101,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) { c.AllowedOrigins = tt.allowed })
			var extra []string
			if tt.origin != "" {
				extra = append(extra, "Origin: "+tt.origin)
			}
			resp, body := rawExchange(t, env.addr, upgradeRequest(StreamPath+"?access_token="+tok, extra...))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 101 {
				env.streams.expectOpened(t)
			} else {
				checkErrorBody(t, resp, body, tt.status, CodeOriginNotAllowed)
			}
		})
	}
}

func TestStreamPlainGET426(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "alice", "", time.Hour)
	resp, err := env.client.Get(env.url(StreamPath + "?access_token=" + tok))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	checkErrorBody(t, resp, body, http.StatusUpgradeRequired, CodeUpgradeRequired)
	if resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("Upgrade header %q", resp.Header.Get("Upgrade"))
	}
	env.streams.expectNone(t)

	// Other methods on the stream path are 405.
	resp2, err := env.client.Post(env.url(StreamPath), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	body2, _ := io.ReadAll(resp2.Body)
	checkErrorBody(t, resp2, body2, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
}

func TestStreamDeflate(t *testing.T) {
	tok := issue(t, "acme", "alice", "", time.Hour)
	tests := []struct {
		name        string
		mode        websocket.CompressionMode
		wantDeflate bool
	}{
		{
			name:        "offered with context takeover",
			mode:        websocket.CompressionContextTakeover,
			wantDeflate: true,
		},
		{
			name:        "offered without context takeover",
			mode:        websocket.CompressionNoContextTakeover,
			wantDeflate: true,
		},
		{
			name:        "not offered",
			mode:        websocket.CompressionDisabled,
			wantDeflate: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			c, resp, err := dialStream(t, env, "?access_token="+tok, &websocket.DialOptions{CompressionMode: tt.mode})
			if err != nil {
				t.Fatal(err)
			}
			o := env.streams.expectOpened(t)
			readHello(t, c, "hello acme alice")
			if o.st.Deflate != tt.wantDeflate {
				t.Fatalf("Deflate = %v, want %v", o.st.Deflate, tt.wantDeflate)
			}
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if tt.wantDeflate != strings.Contains(ext, "server_no_context_takeover") {
				t.Fatalf("Sec-WebSocket-Extensions %q", ext)
			}
		})
	}
}

func TestStreamDeflateDeclinedForSmallServerWindow(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "alice", "", time.Hour)
	resp, _ := rawExchange(t, env.addr, upgradeRequest(StreamPath+"?access_token="+tok,
		"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9"))
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("status %d extensions %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	if o := env.streams.expectOpened(t); o.st.Deflate {
		t.Fatal("Deflate true although declined")
	}
}

// TestStreamLeftoverBytes sends a client frame in the same write as the
// handshake: the frame must reach Streams, through a wrapper conn.
func TestStreamLeftoverBytes(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "alice", "", time.Hour)
	var frame bytes.Buffer
	if err := wsutil.WriteClientText(&frame, []byte("early")); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, upgradeRequest(StreamPath+"?access_token="+tok)+frame.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{br, c}
	for _, want := range []string{"hello acme alice", "echo:early"} {
		msg, err := wsutil.ReadServerText(rw)
		if err != nil || string(msg) != want {
			t.Fatalf("got %q %v, want %q", msg, err, want)
		}
	}
	_ = wsutil.WriteClientMessage(c, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if o := env.streams.expectOpened(t); o.raw {
		t.Fatal("Streams got the raw conn although bytes followed the handshake")
	}
}

// TestStreamHTTPFallback upgrades on the second request of a keep-alive
// connection, which net/http serves (hijack path).
func TestStreamHTTPFallback(t *testing.T) {
	env := newTestEnv(t, nil)
	tok := issue(t, "acme", "dave", "", time.Hour)
	c, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}

	// A refusal first: still JSON, through net/http.
	if _, err := io.WriteString(c, upgradeRequest(StreamPath+"?last_seq=x&access_token="+tok)); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkErrorBody(t, resp, body, 400, CodeInvalidQuery)

	var frame bytes.Buffer
	_ = wsutil.WriteClientText(&frame, []byte("early"))
	if _, err := io.WriteString(c, upgradeRequest(StreamPath+"?access_token="+tok,
		"Sec-WebSocket-Extensions: permessage-deflate")+frame.String()); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{br, c}
	for _, want := range []string{"hello acme dave", "echo:early"} {
		msg, err := wsutil.ReadServerText(rw)
		if err != nil || string(msg) != want {
			t.Fatalf("got %q %v, want %q", msg, err, want)
		}
	}
	_ = wsutil.WriteClientMessage(c, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if o := env.streams.expectOpened(t); !o.st.Deflate || o.st.User != "dave" {
		t.Fatalf("stream %+v", o.st)
	}
}

func TestHeadTooLarge(t *testing.T) {
	env := newTestEnv(t, nil)
	req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 9000) + "\r\n\r\n"
	resp, body := rawExchange(t, env.addr, req)
	checkErrorBody(t, resp, body, http.StatusRequestHeaderFieldsTooLarge, CodeHeaderTooLarge)

	// Up to 8 KiB is fine.
	req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 7000) + "\r\n\r\n"
	resp, _ = rawExchange(t, env.addr, req)
	if resp.StatusCode != 200 {
		t.Fatalf("7 KB head: status %d", resp.StatusCode)
	}
}

func TestMalformedRequest(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, body := rawExchange(t, env.addr, "this is not http\r\n\r\n")
	checkErrorBody(t, resp, body, http.StatusBadRequest, CodeBadRequest)
}
