package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds a daemon's start (build caches are warm; JetStream
// recovery after kill -9 takes well under a second here).
const readyTimeout = 30 * time.Second

// spec is how to start one daemon.
type spec struct {
	// DataDir is --data-dir; "" means a fresh t.TempDir().
	DataDir string
	// Args are extra flags after the defaults (a later flag wins).
	Args []string
	// Env is extra KEY=VALUE; every other ORGSTREAM_* of the test's
	// environment is dropped.
	Env []string
	// ListenViaEnv passes the listen address as ORGSTREAM_LISTEN instead of
	// --listen.
	ListenViaEnv bool
	// Bare leaves out the defaults --nats-listen and --node-name: the
	// daemon runs with its own defaults for them.
	Bare bool
}

// daemon is one `orgstream serve` subprocess.
type daemon struct {
	t       testing.TB
	DataDir string
	Addr    string // host:port of HTTP
	Base    string // http://host:port
	out     *lockedBuffer
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has been waited for
}

// startDaemon runs `orgstream serve` with a free HTTP port, the embedded
// NATS on a free port and a 1s drain period, and waits until GET /readyz
// answers 200. It retries on another port if the chosen one was taken in
// the meantime. The process is killed (SIGKILL) when t ends, and its output
// printed if t failed.
func startDaemon(t testing.TB, s spec) *daemon {
	t.Helper()
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	for attempt := 1; ; attempt++ {
		d := launch(t, s, freeAddr(t))
		err := d.waitReady(readyTimeout)
		if err == nil {
			return d
		}
		if attempt < 3 && d.exited() && strings.Contains(d.Output(), "address already in use") {
			t.Logf("e2e: port race on %s, retrying", d.Addr)
			continue
		}
		t.Fatalf("e2e: daemon not ready: %v\n--- daemon output ---\n%s", err, d.Output())
	}
}

func launch(t testing.TB, s spec, addr string) *daemon {
	t.Helper()
	args := []string{"serve", "--data-dir", s.DataDir, "--drain-period", "1s"}
	if !s.Bare {
		args = append(args, "--nats-listen", "127.0.0.1:0", "--node-name", "e2e")
	}
	env := childEnv(s.Env)
	if s.ListenViaEnv {
		env = append(env, "ORGSTREAM_LISTEN="+addr)
	} else {
		args = append(args, "--listen", addr)
	}
	args = append(args, s.Args...)
	d := &daemon{
		t: t, DataDir: s.DataDir, Addr: addr, Base: "http://" + addr,
		out: &lockedBuffer{}, done: make(chan struct{}),
	}
	d.cmd = exec.Command(binPath, args...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	setPdeathsig(d.cmd)
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("e2e: start %s: %v", binPath, err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.Kill()
		if out := d.Output(); strings.Contains(out, "DATA RACE") {
			t.Errorf("e2e: the daemon reported a data race")
		}
		if t.Failed() {
			t.Logf("--- output of daemon on %s (data dir %s) ---\n%s", d.Addr, d.DataDir, d.Output())
		}
	})
	return d
}

// childEnv is the test's environment without ORGSTREAM_* plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORGSTREAM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// waitReady polls GET /readyz until it answers 200.
func (d *daemon) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	last := errors.New("no answer yet")
	for time.Now().Before(deadline) {
		if d.exited() {
			return fmt.Errorf("exited (%s) before it was ready", d.cmd.ProcessState)
		}
		resp, err := client.Get(d.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("readyz %d", resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %v", timeout, last)
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone. Safe
// to call on an exited daemon.
func (d *daemon) Kill() {
	if !d.exited() {
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-d.done
}

// Terminate sends SIGTERM and waits up to timeout for the exit; it returns
// the exit code and how long the exit took.
func (d *daemon) Terminate(timeout time.Duration) (code int, took time.Duration, err error) {
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, 0, err
	}
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode(), time.Since(start), nil
	case <-time.After(timeout):
		return -1, time.Since(start), fmt.Errorf("still running %s after SIGTERM", timeout)
	}
}

// Output is everything the daemon wrote so far (stdout and stderr).
func (d *daemon) Output() string { return d.out.String() }

// natsURLPattern is the embedded NATS URL that PROTOCOL.md says the daemon
// logs at start.
var natsURLPattern = regexp.MustCompile(`nats://127\.0\.0\.1:([0-9]+)`)

// NATSURL is the first nats://127.0.0.1:PORT with a non-zero port in the
// output, "" if none.
func (d *daemon) NATSURL() string {
	for _, m := range natsURLPattern.FindAllStringSubmatch(d.Output(), -1) {
		if m[1] != "0" {
			return m[0]
		}
	}
	return ""
}

// secret reads the daemon's generated <data-dir>/jwt-secret.
func (d *daemon) secret(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.DataDir, "jwt-secret"))
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		t.Fatal("e2e: empty jwt-secret")
	}
	return b
}

// freeAddr is 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
}

// freeAddrs is n distinct 127.0.0.1:PORT that were free a moment ago: all
// are held open until the last is picked. The ports are below Linux's
// ephemeral range (32768-60999), where the kernel picks ":0" listeners and
// outgoing connections' local ports: a node keeps its addresses across a
// restart, and one from the ephemeral range could be taken while it is
// down (seen: "bind: address already in use" on restart).
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, 0, n)
	for tries := 0; len(addrs) < n; tries++ {
		if tries == 1000 {
			t.Fatal("e2e: no free port below the ephemeral range")
		}
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: another one
		}
		defer l.Close()
		addrs = append(addrs, addr)
	}
	return addrs
}

// runCLI runs the binary with args and extra env (ORGSTREAM_* of the test's
// environment dropped) and returns stdout, stderr and the exit code.
func runCLI(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = childEnv(env)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
	default:
		t.Fatalf("e2e: run orgstream %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// lockedBuffer is a bytes.Buffer safe for the process's writers and the
// test's readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Secrets of the clusters the tests start (passed through the environment,
// as deploy/local/cluster.sh does).
const (
	clusterSecret     = "e2e route secret, the same on every node"
	publisherPassword = "e2e-publisher-password"
)
