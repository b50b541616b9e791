package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestHintAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:9000":      "127.0.0.1:9000",
		":7000":          "127.0.0.1:7000",
		"[::1]:7000":     "[::1]:7000",
		"example:1":      "example:1",
		"garbage":        "garbage",
	} {
		if got := hintAddr(in); got != want {
			t.Errorf("hintAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"./data":     "./data",
		"/var/lib/x": "/var/lib/x",
		"my data":    "'my data'",
		"it's":       `'it'\''s'`,
		"":           "''",
		"$HOME":      "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProgName(t *testing.T) {
	for in, want := range map[string]string{
		"./bin/orgstream":                     "./bin/orgstream",
		"/usr/local/bin/orgstream":            "/usr/local/bin/orgstream",
		"orgstream":                           "orgstream",
		"/tmp/go-build123/b001/exe/orgstream": "go run ./cmd/orgstream",
	} {
		if got := progName(in); got != want {
			t.Errorf("progName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHints(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		addr     string
		natsURL  string
		want     []string
		dontWant []string
	}{
		{
			name:    "defaults",
			addr:    "127.0.0.1:8080",
			natsURL: "nats://127.0.0.1:4222",
			want: []string{
				"http://127.0.0.1:8080",
				"nats://127.0.0.1:4222",
				"./bin/orgstream token --org acme --sub alice --data-dir ./data",
				`websocat "ws://127.0.0.1:8080/v2/realtime/stream?access_token=$TOKEN"`,
				`./bin/orgstream publish --org acme --topic demo --data '{"hello":"world"}' --data-dir ./data`,
				"curl -X POST http://127.0.0.1:8080/v2/realtime/orgs/acme/events",
				"Console:   http://127.0.0.1:8080/ ",
				"Mint token button appears only with --dev",
			},
			dontWant: []string{"--url"},
		},
		{
			name:    "explicit secret, other port, no nats port",
			args:    []string{"--jwt-secret", "topsecret", "--data-dir", "/tmp/my data", "--nats-listen", "off"},
			addr:    "0.0.0.0:9090",
			natsURL: "",
			want: []string{
				"http://127.0.0.1:9090",
				"--url http://127.0.0.1:9090",
				`--jwt-secret "$ORGSTREAM_JWT_SECRET"`,
				"no client port",
			},
			dontWant: []string{"topsecret", "--data-dir '/tmp/my data'"},
		},
		{
			name: "dev mode",
			args: []string{"--dev"},
			addr: "0.0.0.0:9090",
			want: []string{
				"Console:   http://127.0.0.1:9090/ ",
				"--dev: its Mint token button signs tokens for anyone who can reach this port",
			},
			dontWant: []string{"appears only with --dev"},
		},
		{
			name: "issuer and audience in the token commands",
			args: []string{"--jwt-issuer", "https://idp.example.com/", "--jwt-audience", "org stream"},
			addr: "127.0.0.1:8080",
			want: []string{
				"token --org acme --sub alice --data-dir ./data --jwt-issuer https://idp.example.com/ --jwt-audience 'org stream'",
				"publish --org acme --topic demo --data '{\"hello\":\"world\"}' --data-dir ./data --jwt-issuer https://idp.example.com/ --jwt-audience 'org stream'",
			},
		},
		{
			name: "metrics on their own address",
			args: []string{"--metrics-listen", "0.0.0.0:9100"},
			addr: "127.0.0.1:8080",
			want: []string{
				"HTTP:      http://127.0.0.1:8080  (/healthz, /readyz)\n",
				"Metrics:   http://127.0.0.1:9100  (/metrics, /v2/realtime/metrics; not on HTTP)",
			},
		},
		{
			name: "data dir quoted",
			args: []string{"--data-dir", "/tmp/my data"},
			addr: "127.0.0.1:8080",
			want: []string{"--data-dir '/tmp/my data'"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o serveOptions
			if err := newServeFlags(&o).parse(tt.args, envOf(nil)); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			c := &cli{stdout: &out, prog: "./bin/orgstream"}
			c.printHints(&o, tt.addr, tt.natsURL)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("hints lack %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("hints contain %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger("warn", "auto", &b) // a buffer is no terminal: json
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	_ = log.Sync()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), b.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("not json: %q", lines[0])
	}
	if m["msg"] != "shown" || m["level"] != "warn" {
		t.Errorf("entry = %v", m)
	}

	b.Reset()
	log, err = newLogger("debug", "console", &b)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hello")
	if !strings.Contains(b.String(), "DEBUG") || strings.HasPrefix(b.String(), "{") {
		t.Errorf("console output = %q", b.String())
	}
}

// TestServeLifecycle starts the real daemon on free ports (pprof and the
// metrics on addresses of their own), checks the hints, /healthz and the
// metrics address, then cancels (as SIGTERM would) and expects exit 0 with
// the metrics address closed.
func TestServeLifecycle(t *testing.T) {
	memoryLimitAtStart := debug.SetMemoryLimit(-1)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, env: envOf(nil), prog: "./bin/orgstream"}

	type result struct {
		code     int
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panicked: p}
			}
		}()
		done <- result{code: c.run(ctx, []string{"serve",
			"--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
			"--data-dir", dir, "--drain-period", "100ms", "--log-level", "warn",
			"--pprof-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"})}
	}()

	var httpURL, metricsURL string
	deadline := time.Now().Add(20 * time.Second)
	for httpURL == "" || metricsURL == "" {
		select {
		case r := <-done:
			if r.panicked != nil {
				t.Fatalf("serve panicked: %v", r.panicked)
			}
			t.Fatalf("serve exited early with %d: %s", r.code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hints after 20s; stderr: %s", errb.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if u, ok := strings.CutPrefix(strings.TrimSpace(line), "HTTP:"); ok {
				httpURL = strings.Fields(u)[0]
			}
			if u, ok := strings.CutPrefix(strings.TrimSpace(line), "Metrics:"); ok {
				metricsURL = strings.Fields(u)[0]
			}
		}
	}
	if !strings.Contains(out.String(), "nats://127.0.0.1:") {
		t.Errorf("hints lack the NATS URL:\n%s", out.String())
	}
	if st, err := os.Stat(filepath.Join(dir, "jwt-secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("jwt-secret: %v, %v", st, err)
	}
	for _, c := range []struct {
		url    string
		status int
	}{
		{httpURL + "/healthz", http.StatusOK},
		{metricsURL + "/v2/realtime/metrics", http.StatusOK},
		{metricsURL + "/metrics", http.StatusOK},
		{httpURL + "/metrics", http.StatusNotFound}, // --metrics-listen takes them off --listen
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("GET %s = %d, want %d", c.url, resp.StatusCode, c.status)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	// The heap cap holds the soft memory limit while serving (a headroom
	// of --window-bytes above the memory in use: far below "no limit"),
	// and gives the limit found at the start back on exit.
	for capped := false; !capped; {
		runtime.GC()
		capped = debug.SetMemoryLimit(-1) < memoryLimitAtStart
		if !capped && time.Now().After(deadline.Add(10*time.Second)) {
			t.Fatalf("soft memory limit %d while serving, want below %d", debug.SetMemoryLimit(-1), memoryLimitAtStart)
		}
		time.Sleep(20 * time.Millisecond)
	}

	cancel()
	select {
	case r := <-done:
		if r.panicked != nil || r.code != 0 {
			t.Fatalf("serve = %+v, want exit 0; stderr: %s", r, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if got := debug.SetMemoryLimit(-1); got != memoryLimitAtStart {
		t.Errorf("soft memory limit %d after serve returned, want %d as before", got, memoryLimitAtStart)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(metricsURL, "http://"), time.Second); err == nil {
		c.Close()
		t.Errorf("the metrics address still accepts after serve returned")
	}
}
