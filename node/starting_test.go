package node_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// PROTOCOL.md "GET /healthz 200 while the process lives": a node whose log
// cannot open yet (a cluster member alone, waiting for a quorum that never
// comes) already answers /healthz 200, and /readyz, streams and publishes
// 503 not_ready, until its start is given up.
func TestServesHealthWhileTheLogOpens(t *testing.T) {
	t.Parallel()
	ports := freePorts(t, 3)
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan error, 1)
	dir := t.TempDir()
	go func() {
		n, err := node.Start(ctx, node.Config{
			Listen: fmt.Sprintf("127.0.0.1:%d", ports[0]), DataDir: dir,
			JWTSecret: []byte(testkit.Secret), NATSListen: "127.0.0.1:0", NodeName: "alone",
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[1]), ClusterSecret: "route secret",
			Routes:   []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[2])}, // nobody there
			Replicas: 3,
		})
		if n != nil {
			_ = n.Shutdown(context.Background())
		}
		started <- err
	}()

	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/healthz while the log opens: %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered while the log opens: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, b := get(t, base+"/readyz"); st != http.StatusServiceUnavailable || readyCode(t, b) != "not_ready" {
		t.Fatalf("/readyz while the log opens: %d %s, want 503 not_ready", st, b)
	}
	tok := testkit.Token(t, []byte(testkit.Secret), "acme", "svc", time.Hour, true)
	st, body := testkit.Publish(t, base, "acme", tok, testkit.EventBody("t", "{}", ""))
	if st != http.StatusServiceUnavailable || decodeError(t, body).Code != "not_ready" {
		t.Fatalf("publish while the log opens: %d %s, want 503 not_ready", st, body)
	}
	resp, body := upgradeRequest(t, testkit.StreamURL(base, tok, nil), nil, false)
	if e := expectRefused(t, resp, body, http.StatusServiceUnavailable); e.Code != "not_ready" {
		t.Fatalf("stream while the log opens: %s, want 503 not_ready", body)
	}

	cancel()
	select {
	case err := <-started:
		if err == nil || !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start after its context ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
}
