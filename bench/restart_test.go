package bench

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestDaemonKillPauseRestart: a daemon paused with SIGSTOP stops answering
// and answers again after SIGCONT; killed with SIGKILL it exits; restarted,
// it runs as a new process on its data dir and is ready.
func TestDaemonKillPauseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	bin := buildDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := StartDaemon(ctx, DaemonConfig{Path: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Stop() }()
	if err := d.Restart(ctx); err == nil {
		t.Fatal("Restart of a running daemon succeeded")
	}
	if err := d.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = d.waitReady(wctx, time.Second)
	wcancel()
	if err == nil {
		t.Fatal("a paused daemon answered /readyz")
	}
	if err := d.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := d.waitReady(ctx, 10*time.Second); err != nil {
		t.Fatalf("not ready after SIGCONT: %v", err)
	}
	oldPID := d.PID
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	if !d.Exited() {
		t.Fatal("not exited after Kill")
	}
	if err := d.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if d.PID == oldPID || d.Exited() || d.URL == "" {
		t.Fatalf("after Restart: pid %d (was %d), exited %v, url %q", d.PID, oldPID, d.Exited(), d.URL)
	}
	if _, err := os.Stat(d.DataDir); err != nil {
		t.Fatalf("data dir: %v", err)
	}
}
