package node_test

import (
	"context"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// --metrics-listen on a real node: both metrics routes (with the log's
// stream leaders) on their own address from the start, 404 not_found for
// them on the public port, and the address closed when the node stops.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, func(c *node.Config) { c.MetricsListen = "127.0.0.1:0" })
	maddr := n.MetricsAddr()
	if maddr == "" || maddr == n.Addr() {
		t.Fatalf("MetricsAddr %q (public %s), want an address of its own", maddr, n.Addr())
	}
	metricsBase := "http://" + maddr

	want := logStreamsLedBy("test-0")
	if got := logLeaders(t, metricsBase); !maps.Equal(got, want) {
		t.Errorf("log stream leaders on the metrics address: %v, want %v", got, want)
	}
	if st, b := get(t, metricsBase+"/metrics"); st != 200 || !strings.Contains(string(b), "orgstream_connections ") {
		t.Errorf("/metrics on the metrics address: %d\n%.300s", st, b)
	}
	for _, p := range []string{"/metrics", "/v2/realtime/metrics"} {
		st, b := get(t, n.BaseURL()+p)
		if st != http.StatusNotFound || decodeError(t, b).Code != "not_found" {
			t.Errorf("public %s with --metrics-listen: %d %s, want 404 not_found", p, st, b)
		}
	}
	if st, b := get(t, n.BaseURL()+"/readyz"); st != 200 {
		t.Errorf("public /readyz: %d %s", st, b)
	}

	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), phase)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", maddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the metrics address %s still accepts after Shutdown", maddr)
	}
}
