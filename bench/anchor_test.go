package bench

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The anchor runs its three shapes against a real nats-server process (this
// test binary re-executed as the anchor server), reads that process's CPU,
// and stops it.
func TestRunAnchor(t *testing.T) {
	t.Parallel()
	a, err := RunAnchor(testCtx(t), AnchorConfig{Publishers: 3, Window: 50, Size: 64, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if a.ServerPID == 0 || a.ServerPID == os.Getpid() {
		t.Fatalf("server pid %d: not a process of its own", a.ServerPID)
	}
	if err := syscall.Kill(a.ServerPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("server process %d still there after RunAnchor (kill 0: %v)", a.ServerPID, err)
	}
	for _, sh := range []struct {
		got  AnchorShape
		name string
		pubs int
	}{{a.Sync, AnchorSync, 1}, {a.Parallel, AnchorParallel, 3}, {a.Async, AnchorAsync, 1}} {
		if sh.got.Name != sh.name || sh.got.Publishers != sh.pubs {
			t.Errorf("shape %q ×%d, want %q ×%d", sh.got.Name, sh.got.Publishers, sh.name, sh.pubs)
		}
		if sh.got.Rate <= 0 || sh.got.AckP50 <= 0 || sh.got.AckP99 < sh.got.AckP50 {
			t.Errorf("%s: rate %v, ack p50 %v ms, p99 %v ms", sh.name, sh.got.Rate, sh.got.AckP50, sh.got.AckP99)
		}
		// The server is another process: its CPU is known (clock ticks of
		// 10 ms, so it may read 0 over a short run), never -1.
		if sh.got.ServerCPUPerMsg < 0 {
			t.Errorf("%s: server CPU per message unknown", sh.name)
		}
		if sh.got.Natscli != 0 || sh.got.NatscliErr != nil {
			t.Errorf("%s: natscli ran without being asked", sh.name)
		}
	}
	// A window of 50 acks per round trip outruns one publish per round trip.
	if a.Async.Rate <= a.Sync.Rate {
		t.Logf("async %v msgs/s not above sync %v (loaded machine?)", a.Async.Rate, a.Sync.Rate)
	}
}

func TestRunAnchorServerFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		server []string
		want   string
	}{
		{"missing binary", []string{"/nonexistent/orgstream-bench"}, "start /nonexistent/orgstream-bench"},
		{"exits at once", []string{"/bin/sh", "-c", "echo boom >&2; exit 3"}, "boom"},
	}
	for _, tc := range cases {
		_, err := RunAnchor(testCtx(t), AnchorConfig{Server: tc.server, Duration: time.Millisecond})
		if !errors.Is(err, ErrAnchor) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrAnchor with %q", tc.name, err, tc.want)
		}
	}
	if _, err := RunAnchor(testCtx(t), AnchorConfig{Window: -1}); !isConfigErr(err) {
		t.Errorf("negative window: err = %v, want ErrConfig", err)
	}
}

func TestServeAnchorUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--store-dir", t.TempDir(), "extra"}, {"--nope"}} {
		var errb bytes.Buffer
		if code := ServeAnchor(args, strings.NewReader(""), &bytes.Buffer{}, &errb); code != 2 {
			t.Errorf("ServeAnchor(%q) = %d, want 2 (stderr %s)", args, code, errb.String())
		}
	}
}
