package transport

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// With MetricsListen, both metrics routes are served on their own address
// and answer 404 not_found on the public port; the metrics address serves
// nothing else. Shutdown closes it.
func TestMetricsListen(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MetricsListen = "127.0.0.1:0" })
	env.metrics.Connections.Store(3)
	maddr := env.srv.MetricsAddr()
	if maddr == "" || maddr == env.addr {
		t.Fatalf("MetricsAddr %q (public %s), want an address of its own", maddr, env.addr)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	fetch := func(url string) (int, string, []byte) {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}

	st, ct, b := fetch("http://" + maddr + "/metrics")
	if st != 200 || !strings.HasPrefix(ct, "text/plain") || !strings.Contains(string(b), "orgstream_connections 3") {
		t.Errorf("metrics address /metrics: %d %q\n%s", st, ct, b)
	}
	st, ct, b = fetch("http://" + maddr + "/v2/realtime/metrics")
	var doc struct {
		Connections *int64 `json:"connections"`
	}
	if st != 200 || ct != "application/json" || json.Unmarshal(b, &doc) != nil || doc.Connections == nil || *doc.Connections != 3 {
		t.Errorf("metrics address /v2/realtime/metrics: %d %q %s", st, ct, b)
	}
	for _, p := range []string{"/readyz", "/healthz", "/", "/v2/realtime/stream"} {
		st, _, b := fetch("http://" + maddr + p)
		if st != http.StatusNotFound || !strings.Contains(string(b), `"code":"not_found"`) {
			t.Errorf("metrics address %s: %d %s, want 404 not_found", p, st, b)
		}
	}

	for _, p := range []string{"/metrics", "/v2/realtime/metrics"} {
		resp, body := get(t, env, p)
		checkErrorBody(t, resp, body, http.StatusNotFound, CodeNotFound)
	}
	if resp, body := get(t, env, "/readyz"); resp.StatusCode != 200 {
		t.Errorf("public /readyz: %d %s", resp.StatusCode, body)
	}

	hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", maddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the metrics address %s still accepts after Shutdown", maddr)
	}
}

// Without MetricsListen, the public port serves the metrics and there is
// no metrics address.
func TestMetricsOnPublicPortByDefault(t *testing.T) {
	env := newTestEnv(t, nil)
	if a := env.srv.MetricsAddr(); a != "" {
		t.Fatalf("MetricsAddr %q without MetricsListen", a)
	}
	for _, p := range []string{"/metrics", "/v2/realtime/metrics"} {
		if resp, body := get(t, env, p); resp.StatusCode != 200 {
			t.Errorf("public %s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// A MetricsListen that cannot be bound fails Start, which leaves nothing
// listening: the public address is free again.
func TestMetricsListenBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := free.Addr().String()
	free.Close()

	srv, err := New(Config{
		Listen: public, MetricsListen: busy.Addr().String(),
		Verifier: testVerifier, Publisher: &testPublisher{}, Streams: newTestStreams(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "metrics listen") {
		t.Fatalf("Start with a busy metrics address: %v, want a metrics listen error", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", public)
	if err != nil {
		t.Fatalf("the public address is still held after the failed Start: %v", err)
	}
	ln.Close()
}
