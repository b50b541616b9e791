package soak

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// The disk-full fault: the data dir of one node is a small tmpfs (mounted
// before the cluster starts; root only), and the fault fills it with a
// file, holds, and deletes the file.
const (
	// diskNode is the node whose data dir is the small disk (b3).
	diskNode = 2
	// diskSize is the tmpfs size: room for the node's share of the log
	// under the default retention, so that only the filler fills it.
	diskSize = "128m"
	// fillerName is the file that fills the disk.
	fillerName = "soak-filler"
	// diskReadyWait is how long a node whose disk was freed may take to be
	// ready again before the nemesis restarts it (reported).
	diskReadyWait = 15 * time.Second
)

// smallDisk is a tmpfs mounted on one node's data dir.
type smallDisk struct {
	dir string
}

// fill writes a file until the disk is full; it returns the bytes written.
func (d *smallDisk) fill() (int64, error) {
	f, err := os.OpenFile(filepath.Join(d.dir, fillerName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("soak: filler: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("soak: fill %s: %w", d.dir, err)
		}
	}
}

// free deletes the filler.
func (d *smallDisk) free() error {
	if err := os.Remove(filepath.Join(d.dir, fillerName)); err != nil {
		return fmt.Errorf("soak: free %s: %w", d.dir, err)
	}
	return nil
}

// diskFull is the fault: fill node i's disk, hold, free it; then wait for
// its /readyz, and restart it when it is not ready within diskReadyWait
// (the note says which).
func (n *nemesis) diskFull(ctx context.Context, i int, hold time.Duration) (string, error) {
	filled, err := n.disk.fill()
	if err != nil {
		_ = n.disk.free()
		return "", err
	}
	ctxwait.Sleep(ctx, hold)
	if err := n.disk.free(); err != nil {
		return "", err
	}
	note := fmt.Sprintf("filled with %d MiB, then freed", filled>>20)
	if waitFor(ctx, diskReadyWait, func() bool { return ready(ctx, n.nodes.url(i)) }) {
		return note + "; ready again without a restart", nil
	}
	note += fmt.Sprintf("; not ready %s after, restarted (kill -9)", diskReadyWait)
	if err := n.kill(ctx, i, 0); err != nil {
		return note, err
	}
	return note, nil
}

// ready reports whether base/readyz answers 200.
func ready(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
