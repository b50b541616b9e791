package transport

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

func postJSON(t *testing.T, env *testEnv, path, ctype, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return do(t, env, req)
}

func TestConsoleConfig(t *testing.T) {
	for _, dev := range []bool{false, true} {
		env := newTestEnv(t, func(c *Config) { c.Dev = dev })
		resp, body := get(t, env, ConsoleConfigPath)
		want := `{"dev":false}`
		if dev {
			want = `{"dev":true}`
		}
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("dev=%v: %d %q %s, want 200 %s", dev, resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
		}
	}
}

func TestDevTokensNeedDevMode(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, body := postJSON(t, env, DevTokensPath, "application/json", `{"org":"acme","sub":"console"}`)
	checkErrorBody(t, resp, body, 404, CodeNotFound)
}

func TestDevTokens(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	env := newTestEnv(t, func(c *Config) {
		c.Dev = true
		c.Logger = zap.New(core)
	})
	if n := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("dev mode").Len(); n != 1 {
		t.Errorf("%d dev mode warnings at start, want 1", n)
	}
	tests := []struct {
		name   string
		ctype  string
		body   string
		status int
		code   string // refusals
		scope  string // successes
		ttl    time.Duration
	}{
		{name: "subscribe", body: `{"org":"acme","sub":"console","scope":"subscribe","ttl":"1h"}`, status: 201, scope: "subscribe", ttl: time.Hour},
		{name: "publish", body: `{"org":"acme","sub":"console","scope":"publish","ttl":"90s"}`, status: 201, scope: "publish", ttl: 90 * time.Second},
		{name: "defaults", body: `{"org":"a_b-C9","sub":"x"}`, status: 201, scope: "subscribe", ttl: DefaultDevTokenTTL},
		{name: "max ttl", body: `{"org":"acme","sub":"x","ttl":"24h"}`, status: 201, scope: "subscribe", ttl: MaxDevTokenTTL},
		{name: "sub 128 bytes", body: `{"org":"acme","sub":"` + strings.Repeat("é", 64) + `"}`, status: 201, scope: "subscribe", ttl: time.Hour},
		{name: "content type params", ctype: "application/json; charset=utf-8", body: `{"org":"acme","sub":"x"}`, status: 201, scope: "subscribe", ttl: time.Hour},
		{name: "topics", body: `{"org":"acme","sub":"x","topics":["orders.*","billing.>"]}`, status: 201, scope: "subscribe", ttl: time.Hour},
		{name: "topics null", body: `{"org":"acme","sub":"x","topics":null}`, status: 201, scope: "subscribe", ttl: time.Hour},
		{name: "topics empty", body: `{"org":"acme","sub":"x","topics":[]}`, status: 400, code: CodeInvalidTopics},
		{name: "topics bad pattern", body: `{"org":"acme","sub":"x","topics":["a.>.b"]}`, status: 400, code: CodeInvalidTopics},
		{name: "topics not an array", body: `{"org":"acme","sub":"x","topics":"a"}`, status: 400, code: CodeBadRequest},
		{name: "trailing space", body: `{"org":"acme","sub":"x"}` + "\n ", status: 201, scope: "subscribe", ttl: time.Hour},

		{name: "text/plain", ctype: "text/plain", body: `{"org":"acme","sub":"x"}`, status: 415, code: CodeUnsupportedMediaType},
		{name: "no content type", ctype: "-", body: `{"org":"acme","sub":"x"}`, status: 415, code: CodeUnsupportedMediaType},
		{name: "malformed", body: `{"org":`, status: 400, code: CodeBadRequest},
		{name: "not an object", body: `[]`, status: 400, code: CodeBadRequest},
		{name: "unknown member", body: `{"org":"acme","sub":"x","admin":true}`, status: 400, code: CodeBadRequest},
		{name: "two objects", body: `{"org":"acme","sub":"x"}{}`, status: 400, code: CodeBadRequest},
		{name: "body too large", body: `{"org":"acme","sub":"` + strings.Repeat("x", 5000) + `"}`, status: 413, code: CodeBodyTooLarge},
		{name: "no org", body: `{"sub":"x"}`, status: 400, code: CodeInvalidOrg},
		{name: "any org", body: `{"org":"*","sub":"x","scope":"publish"}`, status: 400, code: CodeInvalidOrg},
		{name: "bad org", body: `{"org":"ac.me","sub":"x"}`, status: 400, code: CodeInvalidOrg},
		{name: "long org", body: `{"org":"` + strings.Repeat("a", 65) + `","sub":"x"}`, status: 400, code: CodeInvalidOrg},
		{name: "no sub", body: `{"org":"acme"}`, status: 400, code: CodeInvalidSub},
		{name: "sub 129 bytes", body: `{"org":"acme","sub":"` + strings.Repeat("x", 129) + `"}`, status: 400, code: CodeInvalidSub},
		{name: "sub control char", body: `{"org":"acme","sub":"a\nb"}`, status: 400, code: CodeInvalidSub},
		{name: "bad scope", body: `{"org":"acme","sub":"x","scope":"admin"}`, status: 400, code: CodeInvalidScope},
		{name: "ttl over 24h", body: `{"org":"acme","sub":"x","ttl":"24h1s"}`, status: 400, code: CodeInvalidTTL},
		{name: "ttl zero", body: `{"org":"acme","sub":"x","ttl":"0s"}`, status: 400, code: CodeInvalidTTL},
		{name: "ttl negative", body: `{"org":"acme","sub":"x","ttl":"-1h"}`, status: 400, code: CodeInvalidTTL},
		{name: "ttl not a duration", body: `{"org":"acme","sub":"x","ttl":"soon"}`, status: 400, code: CodeInvalidTTL},
		{name: "ttl a number", body: `{"org":"acme","sub":"x","ttl":3600}`, status: 400, code: CodeBadRequest},
	}
	var minted []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			switch ctype {
			case "":
				ctype = "application/json"
			case "-":
				ctype = ""
			}
			before := time.Now().Truncate(time.Second)
			resp, body := postJSON(t, env, DevTokensPath, ctype, tt.body)
			if tt.code != "" {
				checkErrorBody(t, resp, body, tt.status, tt.code)
				return
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var a struct {
				Token string `json:"token"`
				Exp   int64  `json:"exp"`
			}
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			minted = append(minted, a.Token)
			var req devTokenRequest
			_ = json.Unmarshal([]byte(tt.body), &req)
			c, err := testVerifier.Verify(a.Token, time.Now())
			if err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
			if c.Org != req.Org || c.Sub != req.Sub || c.Scope != tt.scope || !slices.Equal(c.Topics, req.Topics) {
				t.Errorf("claims %+v, want org %q sub %q scope %q", c, req.Org, req.Sub, tt.scope)
			}
			if c.Exp.Unix() != a.Exp {
				t.Errorf("exp %d in the answer, %d in the token", a.Exp, c.Exp.Unix())
			}
			after := time.Now().Add(time.Second)
			if exp := c.Exp; exp.Before(before.Add(tt.ttl)) || exp.After(after.Add(tt.ttl)) {
				t.Errorf("exp %v, want now + %v", exp, tt.ttl)
			}
		})
	}
	if n := logs.FilterMessage("dev token minted").Len(); n != len(minted) {
		t.Errorf("%d mint log lines, want %d", n, len(minted))
	}
	for _, e := range logs.All() {
		line := loggedText(t, e)
		for _, tok := range minted {
			if strings.Contains(line, tok) {
				t.Fatalf("a minted token reached the log: %q", e.Message)
			}
		}
	}

	resp, body := get(t, env, DevTokensPath)
	checkErrorBody(t, resp, body, 405, CodeMethodNotAllowed)
}

// loggedText is all an observed entry carries: its message, its fields as
// zap's JSON encoder writes them and as fmt prints them (so String, Any,
// ByteString, Stringer, Reflect, Object fields all count), and the raw bytes
// of []byte fields (which the encoder writes in base64).
func loggedText(t *testing.T, e observer.LoggedEntry) string {
	t.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	buf, err := enc.EncodeEntry(e.Entry, e.Context)
	if err != nil {
		t.Fatalf("encode log entry %q: %v", e.Message, err)
	}
	defer buf.Free()
	var b strings.Builder
	b.WriteString(e.Message + " " + buf.String() + " " + fmt.Sprint(e.ContextMap()))
	for _, f := range e.Context {
		b.WriteString(" " + f.Key + " " + f.String)
		if raw, ok := f.Interface.([]byte); ok {
			b.WriteString(" " + string(raw))
		}
	}
	return b.String()
}

// TestConsoleRoutes: the console is served at "/" and /console/…, next to
// the API routes, whose answers it does not change.
func TestConsoleRoutes(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, body := get(t, env, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `<script src="/console/app.js`) {
		t.Fatalf("GET /: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("GET / lacks %s", h)
		}
	}
	resp, _ = get(t, env, "/console/app.js")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /console/app.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	for _, p := range []string{"/console/nope.js", "/console/", "/index.html", "/nope", "/v2/", "/v2/dev/tokens"} {
		resp, body := get(t, env, p)
		checkErrorBody(t, resp, body, 404, CodeNotFound)
	}
	resp, body = postJSON(t, env, "/", "application/json", "{}")
	checkErrorBody(t, resp, body, 405, CodeMethodNotAllowed)
	resp, body = get(t, env, "/healthz")
	if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, env, StreamPath)
	checkErrorBody(t, resp, body, 426, CodeUpgradeRequired)
}

func FuzzParseDevTokenRequest(f *testing.F) {
	for _, s := range []string{
		`{"org":"acme","sub":"console","scope":"subscribe","ttl":"1h"}`,
		`{"org":"*","sub":"x","scope":"publish"}`,
		`{"org":"acme","sub":"x","ttl":"24h1ns"}`,
		`{"org":"acme","sub":"\u0000"}`,
		`{} {}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ttl, e := parseDevTokenRequest(body)
		if e != nil {
			if e.Status != http.StatusBadRequest || e.Code == "" {
				t.Fatalf("refusal %+v", e)
			}
			return
		}
		if !messages.ValidOrg(req.Org) || !validDevSub(req.Sub) ||
			(req.Scope != auth.ScopeSubscribe && req.Scope != auth.ScopePublish) ||
			ttl <= 0 || ttl > MaxDevTokenTTL {
			t.Fatalf("accepted %+v ttl %v", req, ttl)
		}
		if _, err := auth.Issue(testSecret, auth.Claims{Sub: req.Sub, Org: req.Org, Scope: req.Scope, Exp: time.Now().Add(ttl)}); err != nil {
			t.Fatalf("accepted %+v, but Issue refuses it: %v", req, err)
		}
	})
}

// A dev token is minted only for a request whose Host is the loopback: a
// page of another site whose name was made to resolve to 127.0.0.1 (DNS
// rebinding) sends its own name and is refused.
func TestDevTokensOnlyForLoopbackHost(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Dev = true })
	for host, want := range map[string]int{
		"127.0.0.1:8080":  201,
		"localhost:8080":  201,
		"LOCALHOST":       201,
		"[::1]:8080":      201,
		"127.0.0.2":       201,
		"evil.example":    403,
		"evil.example:80": 403,
		"10.0.0.5:8080":   403,
	} {
		req, err := http.NewRequest(http.MethodPost, env.url(DevTokensPath), strings.NewReader(`{"org":"acme","sub":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		resp, body := do(t, env, req)
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d %s, want %d", host, resp.StatusCode, body, want)
		}
		if want == 403 {
			checkErrorBody(t, resp, body, 403, CodeForbidden)
		}
	}
}
