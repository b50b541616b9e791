package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// AnchorServerCommand is the hidden subcommand of orgstream-bench that runs
// the anchor's standalone nats-server (ServeAnchor). The harness starts it
// by re-executing its own binary, so that the raw server is a process of
// its own, measured through /proc like the daemon, and the harness needs
// no nats-server binary besides itself.
const AnchorServerCommand = "anchor-server"

// anchorReadyPrefix starts the line ServeAnchor prints once the server
// accepts connections; the rest of the line is its client URL.
const anchorReadyPrefix = "anchor-server ready: "

// ErrAnchor wraps every failure of the raw JetStream anchor: its server
// process, its stream, a refused publish.
var ErrAnchor = errors.New("bench: anchor")

// ServeAnchor is the body of `orgstream-bench anchor-server --store-dir
// DIR`: a standalone nats-server (the module orgstream embeds, so the same
// v2.15.2) with JetStream on a file store in DIR and a free port of
// 127.0.0.1, every other option at nats-server's defaults (like `nats-server
// -js`). It prints "anchor-server ready: nats://…" to stdout, serves until
// stdin ends (the parent closed it, or died) or SIGTERM/SIGINT, shuts down
// and returns the exit code.
func ServeAnchor(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orgstream-bench "+AnchorServerCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("store-dir", "", "JetStream store directory (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "usage: orgstream-bench %s --store-dir DIR\n", AnchorServerCommand)
		return 2
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "orgstream-bench-anchor",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   *dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", AnchorServerCommand, err)
		return 1
	}
	ns.Start()
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	if !ns.ReadyForConnections(30 * time.Second) {
		fmt.Fprintf(stderr, "%s: server not ready within 30s\n", AnchorServerCommand)
		return 1
	}
	fmt.Fprintf(stdout, "%s%s\n", anchorReadyPrefix, ns.ClientURL())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	eof := make(chan struct{})
	go func() { // ends with the process: stdin is never closed from here
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return 0
}

// anchorServer is a ServeAnchor process started by startAnchorServer.
type anchorServer struct {
	URL string
	PID int

	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *tailBuffer // its stderr
	done  chan struct{}
	dir   string
}

// startAnchorServer runs argv (a program that runs ServeAnchor; the store
// dir flag is appended) on a fresh temporary store and waits for its ready
// line. The process gets SIGKILL if the harness dies first (Linux).
func startAnchorServer(ctx context.Context, argv []string, timeout time.Duration) (*anchorServer, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: no server command", ErrAnchor)
	}
	dir, err := os.MkdirTemp("", "orgstream-bench-anchor-")
	if err != nil {
		return nil, fmt.Errorf("%w: store dir: %w", ErrAnchor, err)
	}
	s := &anchorServer{dir: dir, out: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	args := append(append([]string{}, argv[1:]...), "--store-dir", dir)
	s.cmd = exec.Command(argv[0], args...)
	s.cmd.Env = childEnv()
	s.cmd.Stderr = s.out
	setPdeathsig(s.cmd)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", ErrAnchor, err)
	}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", ErrAnchor, err)
	}
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: start %s: %w", ErrAnchor, argv[0], err)
	}
	s.PID = s.cmd.Process.Pid
	ready := make(chan string, 1)
	go func() {
		// Reads stdout to its end (the process's exit), then reaps it.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), anchorReadyPrefix); ok {
				select {
				case ready <- u:
				default:
				}
			}
		}
		_ = s.cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case s.URL = <-ready:
		return s, nil
	case <-s.done:
		err = fmt.Errorf("exited: %v", s.cmd.ProcessState)
	case <-timer.C:
		err = fmt.Errorf("no ready line within %s", timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = s.stop()
	return nil, fmt.Errorf("%w: server: %w\n--- its stderr ---\n%s", ErrAnchor, err, s.out.String())
}

// stop closes the server's stdin (it shuts down), waits for it (SIGKILL
// after 10 s) and removes its store.
func (s *anchorServer) stop() error {
	_ = s.stdin.Close()
	var err error
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		err = fmt.Errorf("%w: server not stopped 10s after its stdin closed, killed", ErrAnchor)
	}
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = fmt.Errorf("%w: remove store: %w", ErrAnchor, rerr)
	}
	return err
}
