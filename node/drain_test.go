package node_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// PROTOCOL.md "Operating", SIGTERM (node.Shutdown is what the daemon runs on
// it): /readyz turns 503 draining while draining (/healthz stays 200), new streams
// and publishes are refused with 503 and a JSON body (adding nothing), open
// streams are closed with 1001 spread over the drain period, and everything
// acknowledged is in the log afterwards.
func TestDrain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const drain = time.Second
	n := testkit.StartNode(t, func(c *node.Config) { c.DataDir, c.DrainPeriod = dir, drain })
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	seqs := testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "x", 7)
	if st, b := get(t, n.BaseURL()+"/readyz"); st != 200 {
		t.Fatalf("readyz before the drain: %d %s", st, b)
	}

	// A client that does not answer the close keeps the drain going for a
	// while (the server waits briefly for its answer).
	mute, err := testkit.RawDial(ctx, n.StreamURL(n.Token(t, "acme", "mute", time.Hour, false), nil), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	const clients = 10
	type closed struct {
		code int
		at   time.Time
		err  error
	}
	results := make([]closed, clients)
	var wg sync.WaitGroup
	for i := range clients {
		c, _ := subscriber(ctx, t, n, "acme", fmt.Sprintf("u%d", i))
		wg.Go(func() {
			code, err := c.ReadUntilClose(ctx)
			results[i] = closed{code: int(code), at: time.Now(), err: err}
		})
	}
	waitFor(t, phase, "clients connected", func() bool { return n.Metrics().Connections.Load() == clients+1 })

	shutdownErr := make(chan error, 1)
	start := time.Now()
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), phase)
		defer cancel()
		shutdownErr <- n.Shutdown(sctx)
	}()
	waitFor(t, drain, "readyz 503", func() bool {
		st, _ := get(t, n.BaseURL()+"/readyz")
		return st == http.StatusServiceUnavailable
	})
	if st, b := get(t, n.BaseURL()+"/readyz"); st != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %d %s, want 503", st, b)
	} else if readyCode(t, b) != "draining" {
		t.Errorf("readyz while draining: %s, want code draining", b)
	}
	if st, b := get(t, n.BaseURL()+"/healthz"); st != 200 {
		t.Errorf("healthz while draining: %d %s", st, b)
	}
	st, b := testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.EventBody("t", `{"late":true}`, ""))
	if st != http.StatusServiceUnavailable {
		t.Errorf("publish while draining: %d %s, want 503", st, b)
	} else if e := decodeError(t, b); e.Code != "draining" {
		t.Errorf("publish while draining: %s, want code draining", b)
	}
	resp, body := upgradeRequest(t, n.StreamURL(n.Token(t, "acme", "late", time.Hour, false), nil), nil, false)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stream while draining: %d %s, want 503", resp.StatusCode, body)
	} else {
		if e := expectRefused(t, resp, body, 503); e.Code != "draining" {
			t.Errorf("stream while draining: %s, want code draining", body)
		}
	}

	wg.Wait()
	first, last := results[0].at, results[0].at
	for i, r := range results {
		if r.code != 1001 {
			t.Errorf("client %d ended with %d (%v), want close 1001", i, r.code, r.err)
		}
		if r.at.Before(first) {
			first = r.at
		}
		if r.at.After(last) {
			last = r.at
		}
	}
	t.Logf("closes from %v to %v after the shutdown began", first.Sub(start), last.Sub(start))
	// Spread over the period, not all at once (a loaded box only spreads
	// them more).
	if spread := last.Sub(first); spread < drain/3 {
		t.Errorf("closes spread over %v, want a good part of the %v drain period", spread, drain)
	}
	if code, err := mute.ReadClose(time.Now().Add(phase)); code != 1001 {
		t.Errorf("mute client: close %d (%v), want 1001", code, err)
	}
	if err := <-shutdownErr; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// Everything acknowledged is there; the refused publish is not.
	n2 := testkit.StartNode(t, func(c *node.Config) { c.DataDir, c.JWTSecret = dir, n.Secret })
	c := expectResumed(ctx, t, n2, "acme", 0, n.Epoch(), seqs[len(seqs)-1])
	expectLive(ctx, t, n2, c, "acme", 8)
}
