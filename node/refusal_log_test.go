package node_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// The refusal log's rate per code (transport/log_sample.go): the first 10
// of each second at Info, then one in 1000.
const (
	refusalLogFirst      = 10
	refusalLogThereafter = 1000
)

// A flood of bad tokens is not a flood of log lines (issue 9): 10,000
// requests with bad tokens on publish and on the stream, and 1,000 with a
// good token refused 403 (wrong scope, foreign Origin), give a bounded
// number of lines at Info and above. Each code is still logged, and every
// refusal is accounted for: logged, counted in a later line's
// "suppressed", or one of fewer than 1000 after the code's last line.
func TestRefusalFloodLogsBounded(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	n := testkit.StartNode(t, func(c *node.Config) {
		c.Logger = zap.New(core)
		c.AllowedOrigins = []string{"https://app.example"}
	})
	foreign := testkit.Token(t, []byte("another-secret-0123456789abcdef!"), "acme", "svc", time.Hour, true)
	expired := n.Token(t, "acme", "svc", -time.Minute, true)
	subscribe := n.Token(t, "acme", "alice", time.Hour, false)
	good := n.Token(t, "acme", "alice", time.Hour, false)

	publish := func(token string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, testkit.PublishURL(n.BaseURL(), "acme"),
			strings.NewReader(testkit.EventBody("t", "{}", "")))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	stream := func(token, origin string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, strings.Replace(n.StreamURL(token, nil), "ws://", "http://", 1), nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return req
	}
	floods := []struct {
		code   string
		status int
		count  int
		req    func(i int) *http.Request
	}{
		{"invalid_token", 401, 5000, func(int) *http.Request { return publish(foreign) }},
		{"invalid_token", 401, 4000, func(i int) *http.Request { return stream(fmt.Sprintf("garbage.%d.token", i), "") }},
		{"token_expired", 401, 1000, func(int) *http.Request { return publish(expired) }},
		{"forbidden", 403, 500, func(int) *http.Request { return publish(subscribe) }},
		{"origin_not_allowed", 403, 500, func(int) *http.Request { return stream(good, "https://evil.example") }},
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: phase}
	sent := map[string]int{}
	start := time.Now()
	for _, f := range floods {
		sent[f.code] += f.count
		const workers = 4
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < f.count; i += workers {
					resp, err := hc.Do(f.req(i))
					if err != nil {
						errs <- err
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != f.status || !strings.Contains(string(body), `"code":"`+f.code+`"`) {
						errs <- fmt.Errorf("%d %s, want %d %s", resp.StatusCode, body, f.status, f.code)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%s flood: %v", f.code, err)
		}
	}
	elapsed := time.Since(start)
	// A raw refusal is logged after its answer is written: stopping the node
	// waits for every connection's goroutine, so every line is in.
	n.Stop(t)

	// A code's lines at Info: at most the first 10 of each second it spans
	// (one more second for a tick that straddles the start), plus one per
	// 1000 after those.
	ticks := int(elapsed/time.Second) + 2
	lines := map[string]int{}
	counted := map[string]uint64{}
	var total int
	for _, e := range logs.AllUntimed() {
		if e.Message != "request refused" {
			continue
		}
		m := e.ContextMap()
		code, _ := m["code"].(string)
		sup, _ := m["suppressed"].(uint64)
		lines[code]++
		counted[code] += 1 + sup
		total++
	}
	var refusals int
	for _, c := range sent {
		refusals += c
	}
	t.Logf("%d refusals in %v: %d lines at Info and above (%v)", refusals, elapsed.Round(time.Millisecond), total, lines)
	for code, count := range sent {
		bound := refusalLogFirst*ticks + count/refusalLogThereafter + 1
		switch {
		case lines[code] == 0:
			t.Errorf("%s: no line at Info for %d refusals", code, count)
		case lines[code] > bound:
			t.Errorf("%s: %d lines at Info for %d refusals in %v, want at most %d", code, lines[code], count, elapsed, bound)
		}
		if tail := count - int(counted[code]); tail < 0 || tail >= refusalLogThereafter {
			t.Errorf("%s: the lines account for %d of %d refusals", code, counted[code], count)
		}
	}
	for code := range lines {
		if _, ok := sent[code]; !ok {
			t.Errorf("unexpected refusal code %q in the log", code)
		}
	}
}
