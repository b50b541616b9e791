package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// The fault-injection side of Daemon and Cluster, for the soak campaign
// (bench/soak): a kill -9, a pause and a restart on the same ports and data
// dir. They are not safe to call concurrently with each other for one
// Daemon, and URL changes on Restart (the HTTP port is picked at start).

// Kill sends SIGKILL (a paused process dies too) and waits for the exit.
func (d *Daemon) Kill() error {
	if d.cmd == nil || d.cmd.Process == nil {
		return fmt.Errorf("%w: %s not started", ErrDaemon, d.Name)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%w: kill %s: %w", ErrDaemon, d.Name, err)
	}
	<-d.done
	return nil
}

// Signal sends sig (SIGSTOP, SIGCONT…) to the process.
func (d *Daemon) Signal(sig syscall.Signal) error {
	if d.cmd == nil || d.cmd.Process == nil {
		return fmt.Errorf("%w: %s not started", ErrDaemon, d.Name)
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%w: signal %v to %s: %w", ErrDaemon, sig, d.Name, err)
	}
	return nil
}

// Exited reports whether the process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Restart starts the process again with the binary, flags, environment
// and data dir of its last start, once it has exited (Kill first), and
// waits for its /readyz. Its PID and URL change.
func (d *Daemon) Restart(ctx context.Context) error {
	if !d.Exited() {
		return fmt.Errorf("%w: restart %s: still running", ErrDaemon, d.Name)
	}
	d.URL = ""
	if err := d.start(d.path, d.args, d.env, d.output); err != nil {
		return err
	}
	d.stopOnce = sync.Once{}
	if err := d.waitReady(ctx, DefaultStartTimeout); err != nil {
		return fmt.Errorf("%w: %s not ready after restart: %w\n--- daemon output ---\n%s", ErrDaemon, d.Name, err, d.out.String())
	}
	return nil
}

// RestartAll starts every exited node again at once (a clustered JetStream
// waits for a quorum, so they cannot come up one by one) and waits for all
// of their /readyz.
func (c *Cluster) RestartAll(ctx context.Context) error {
	for _, d := range c.Daemons {
		if !d.Exited() {
			return fmt.Errorf("%w: restart %s: still running", ErrDaemon, d.Name)
		}
		d.URL = ""
		if err := d.start(d.path, d.args, d.env, d.output); err != nil {
			return err
		}
		d.stopOnce = sync.Once{}
	}
	if err := c.waitReady(ctx, DefaultStartTimeout); err != nil {
		return fmt.Errorf("%w: cluster not ready after restart: %w", ErrDaemon, err)
	}
	return nil
}
