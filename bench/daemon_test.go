package bench

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHTTPLine(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"\norgstream dev is running (node bench)\n  HTTP:      http://127.0.0.1:39881  (/healthz, /readyz)\n", "http://127.0.0.1:39881"},
		{"  HTTP:      http://[::1]:80  (x)\n", "http://[::1]:80"},
		{`{"level":"info","msg":"starting","listen":"127.0.0.1:0"}` + "\n", ""},
	}
	for _, tc := range cases {
		m := httpLine.FindStringSubmatch(tc.in)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != tc.want {
			t.Errorf("httpLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 5}
	_, _ = b.Write([]byte("abc"))
	_, _ = b.Write([]byte("defg"))
	if got := b.String(); got != "cdefg" {
		t.Errorf("tail = %q, want cdefg", got)
	}
}

func TestLocateDaemonMissing(t *testing.T) {
	_, _, err := locateDaemon(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, ErrDaemon) {
		t.Errorf("err = %v, want ErrDaemon", err)
	}
}

// buildDaemon builds ./cmd/orgstream into t's temporary directory.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orgstream")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/orgstream").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestStartDaemon builds the real binary and runs a tiny idle scenario on
// a daemon the harness starts and stops.
func TestStartDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	bin := buildDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := Open(ctx, TargetConfig{Daemon: DaemonConfig{Path: bin}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tg.Close() }()
	if !tg.Started || tg.PID == 0 || !strings.HasPrefix(tg.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("target = %+v", tg)
	}
	r, err := RunIdle(ctx, tg, IdleConfig{Conns: 20, Orgs: 2, Hold: 100 * time.Millisecond, Settle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("idle failed: %v", r.Failures)
	}
	for _, name := range []string{"RSS per connection", "goroutines per connection", "connect rate"} {
		if _, ok := r.Metric(name); !ok {
			t.Errorf("no %q metric: %+v", name, r.Metrics)
		}
	}
	dataDir := tg.Daemon().DataDir
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Command("test", "-e", dataDir).CombinedOutput(); err == nil {
		t.Errorf("temporary data dir %s not removed", dataDir)
	}
}
