package e2e

import (
	"net/http"
	"testing"
	"time"
)

// A cluster node started alone waits for its quorum: meanwhile /healthz is
// 200 and /readyz 503, and SIGTERM stops it with exit 0 (PROTOCOL.md).
func TestSIGTERMWhileWaitingForQuorum(t *testing.T) {
	closeIdle(t)
	addrs := freeAddrs(t, 3)
	d := launch(t, spec{DataDir: t.TempDir(), Args: []string{
		"--cluster-listen", addrs[0], "--cluster-secret", clusterSecret,
		"--routes", "nats://" + addrs[1], // nobody there
		"--replicas", "3",
	}}, addrs[2])
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := hc.Get(d.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/healthz while waiting for a quorum: %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) || d.exited() {
			t.Fatalf("/healthz never answered: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	resp, err := hc.Get(d.Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while waiting for a quorum: %d, want 503", resp.StatusCode)
	}
	code, took, err := d.Terminate(20 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM while waiting for a quorum: exit %d after %s (%v), want 0", code, took, err)
	}
}
