package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of DaemonConfig.
const (
	DefaultDaemonPath   = "./bin/orgstream"
	DefaultStartTimeout = 60 * time.Second
	// daemonStopTimeout bounds the SIGTERM drain before SIGKILL.
	daemonStopTimeout = 20 * time.Second
)

// ErrDaemon wraps every failure to locate, build, start or stop the daemon.
var ErrDaemon = errors.New("bench: daemon")

// DaemonConfig says how to start an orgstream daemon for a run.
type DaemonConfig struct {
	// Path is the orgstream binary. Empty means DefaultDaemonPath; when that
	// file is missing and ./cmd/orgstream exists (the harness runs from the
	// repository), it is built into a temporary directory with `go build`.
	Path string
	// Args are extra flags after `serve` and the harness's defaults (a later
	// flag wins), e.g. "--max-queue-bytes", "262144"; every node of a
	// Cluster gets them.
	Args []string
	// DataDir is --data-dir (for a Cluster: the parent of the nodes' data
	// dirs, <DataDir>/b1 …). Empty means a fresh temporary directory,
	// removed by Stop.
	DataDir string
	// Output receives the daemon's stdout and stderr. Nil means they are
	// kept in memory only (the last 64 KiB are quoted in start errors).
	Output io.Writer
	// StartTimeout bounds the start until /readyz answers 200 (for a
	// Cluster: every node's, then again the warm-up publishes). Zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Partitionable (StartCluster only) routes every node's cluster traffic
	// through proxies that Cluster.Partition can block; see partition.go.
	Partitionable bool
}

// Daemon is an `orgstream serve` process started by StartDaemon (or one
// node of a Cluster), listening on a free port of 127.0.0.1.
type Daemon struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// PID is the process id.
	PID int
	// Name is its --node-name.
	Name string
	// DataDir is its --data-dir.
	DataDir string

	cmd      *exec.Cmd
	out      *tailBuffer
	path     string   // binary, args, env and output of the last start,
	args     []string // for Restart
	env      []string
	output   io.Writer
	done     chan struct{}
	tempData bool
	tempBin  string
	stopOnce sync.Once
	stopErr  error
}

// httpLine finds the HTTP address in the hints the daemon prints at start.
var httpLine = regexp.MustCompile(`(?m)^\s*HTTP:\s+(http://[0-9.:\[\]a-zA-Z-]+)`)

// singleNodeName is the --node-name of a daemon started alone.
const singleNodeName = "bench"

// StartDaemon starts `orgstream serve` (no NATS client port, the secret in
// its data dir) and waits until it is ready. The process gets SIGKILL if
// the harness dies first (Linux).
func StartDaemon(ctx context.Context, cfg DaemonConfig) (*Daemon, error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	d := &Daemon{Name: singleNodeName}
	path, tempBin, err := locateDaemon(ctx, cfg.Path)
	if err != nil {
		return nil, err
	}
	d.tempBin = tempBin
	d.DataDir = cfg.DataDir
	if d.DataDir == "" {
		if d.DataDir, err = os.MkdirTemp("", "orgstream-bench-data-"); err != nil {
			d.cleanup()
			return nil, fmt.Errorf("%w: data dir: %w", ErrDaemon, err)
		}
		d.tempData = true
	}
	args := append(serveArgs(d.DataDir, d.Name, "off"), cfg.Args...)
	if err := d.start(path, args, nil, cfg.Output); err != nil {
		d.cleanup()
		return nil, err
	}
	if err := d.waitReady(ctx, cfg.StartTimeout); err != nil {
		_ = d.Stop()
		return nil, fmt.Errorf("%w: not ready: %w\n--- daemon output ---\n%s", ErrDaemon, err, d.out.String())
	}
	return d, nil
}

// serveArgs are the harness's flags for one daemon: a free HTTP port of
// 127.0.0.1, no per-user connection limit, a short drain, quiet JSON logs.
// natsListen is the embedded NATS client address ("off": none).
func serveArgs(dataDir, name, natsListen string) []string {
	return []string{"serve",
		"--data-dir", dataDir,
		"--listen", "127.0.0.1:0",
		"--nats-listen", natsListen,
		"--node-name", name,
		"--max-conns-per-user", "0",
		"--drain-period", "1s",
		"--log-level", "warn",
		"--log-format", "json",
	}
}

// start runs path with args; env is added to the harness's environment
// (less its ORGSTREAM_* variables). It does not wait for readiness.
func (d *Daemon) start(path string, args, env []string, output io.Writer) error {
	d.path, d.args, d.env, d.output = path, args, env, output
	d.out = &tailBuffer{max: 64 << 10}
	d.done = make(chan struct{})
	d.cmd = exec.Command(path, args...)
	d.cmd.Env = append(childEnv(), env...)
	var w io.Writer = d.out
	if output != nil {
		w = io.MultiWriter(d.out, output)
	}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	setPdeathsig(d.cmd)
	if err := d.cmd.Start(); err != nil {
		d.cmd = nil
		return fmt.Errorf("%w: start %s: %w", ErrDaemon, path, err)
	}
	d.PID = d.cmd.Process.Pid
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	return nil
}

func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	return pollChild(ctx, timeout, d.done, d.cmd, func() string {
		if d.URL == "" {
			m := httpLine.FindStringSubmatch(d.out.String())
			if m == nil {
				return ""
			}
			d.URL = m[1]
		}
		return d.URL + "/readyz"
	}, client)
}

// pollChild polls a child process's health URL (url returns "" while it is
// not known yet) every 20 ms until it answers 200, the process exits
// (done closes), or timeout.
func pollChild(ctx context.Context, timeout time.Duration, done <-chan struct{}, cmd *exec.Cmd,
	url func() string, client *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return fmt.Errorf("exited: %v", cmd.ProcessState)
		case <-tick.C:
		}
		u := url()
		if u == "" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

// Output returns the last 64 KiB the daemon wrote.
func (d *Daemon) Output() string { return d.out.String() }

// Stop sends SIGTERM, waits for the drain (SIGKILL after 20 s), and removes
// the temporary data dir and binary. Safe to call more than once.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() {
		if d.cmd != nil && d.cmd.Process != nil {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(daemonStopTimeout):
				_ = d.cmd.Process.Kill()
				<-d.done
				d.stopErr = fmt.Errorf("%w: not stopped %s after SIGTERM, killed", ErrDaemon, daemonStopTimeout)
			}
		}
		d.cleanup()
	})
	return d.stopErr
}

func (d *Daemon) cleanup() {
	if d.tempData && d.DataDir != "" {
		_ = os.RemoveAll(d.DataDir)
	}
	if d.tempBin != "" {
		_ = os.RemoveAll(filepath.Dir(d.tempBin))
	}
}

// locateDaemon returns the binary to run, building ./cmd/orgstream into a
// temporary directory (returned as tempBin) when the default path is
// missing.
func locateDaemon(ctx context.Context, path string) (bin, tempBin string, err error) {
	explicit := path != ""
	if !explicit {
		path = DefaultDaemonPath
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return path, "", nil
	}
	if explicit && path != DefaultDaemonPath {
		return "", "", fmt.Errorf("%w: %s not found", ErrDaemon, path)
	}
	if _, err := os.Stat("cmd/orgstream"); err != nil {
		return "", "", fmt.Errorf("%w: %s not found and no ./cmd/orgstream to build it from (run make build, or pass --daemon or --url)", ErrDaemon, path)
	}
	dir, err := os.MkdirTemp("", "orgstream-bench-bin-")
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrDaemon, err)
	}
	bin = filepath.Join(dir, "orgstream")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/orgstream")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("%w: go build ./cmd/orgstream: %w\n%s", ErrDaemon, err, out.String())
	}
	return bin, bin, nil
}

// childEnv is the harness's environment without ORGSTREAM_* variables, so
// that only the flags the harness passes configure the daemon.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORGSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent
// use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
