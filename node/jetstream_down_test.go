package node_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/transport"
)

// A full disk makes nats-server shut its JetStream down for good; the node
// then says so on /readyz (503 log_unavailable, ErrJetStreamDown) instead
// of answering 200 while holding no replica. Three nodes, R3; the third's
// data dir is a small tmpfs, filled for real: root only. (A single R1
// node's JetStream answers the full disk with refused writes and stays up.)
func TestReadyzWhenJetStreamShutDownByFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a tmpfs: root only")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=24m,mode=0700"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	const k = 3
	nodes := testkit.StartNodes(t, k, embeddedCluster(freePorts(t, k), func(i int, c *node.Config) {
		if i == 2 {
			c.DataDir = dir
		}
	}))
	n, full := nodes[0], nodes[2]
	if err := full.Node.Ready(); err != nil {
		t.Fatalf("before the disk is full: %v", err)
	}
	// Fill the disk, leaving a few KiB: the next appends cannot be stored.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(buf); err != nil {
			break
		}
	}
	_ = filler.Close()

	token := n.Token(t, "acme", "pub", time.Hour, true)
	big := `"` + strings.Repeat("x", 256<<10) + `"` // a JSON string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		if errors.Is(full.Node.Ready(), node.ErrJetStreamDown) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the disk is full and %d publishes were tried, yet Ready() = %v", i, full.Node.Ready())
		}
		_, _, _ = testkit.Post(ctx, n.BaseURL(), "acme", token, testkit.EventBody("t", big, ""))
		time.Sleep(50 * time.Millisecond)
	}
	err = full.Node.Ready()
	if !errors.Is(err, transport.ErrLogUnavailable) {
		t.Fatalf("Ready() = %v; want it to wrap ErrLogUnavailable", err)
	}
	code, body := get(t, full.BaseURL()+"/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d %s; want 503", code, body)
	}
}
