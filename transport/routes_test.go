package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstream/orgstream/metrics"
)

func get(t *testing.T, env *testEnv, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, env, req)
}

// do sends req through env's client and reads the whole answer.
func do(t *testing.T, env *testEnv, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := env.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestHealthz(t *testing.T) {
	env := newTestEnv(t, nil)
	env.ready.set(ErrDraining) // liveness ignores readiness
	resp, body := get(t, env, "/healthz")
	if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// /readyz answers each readiness state with {"status","code"} only: the
// error behind it (NATS errors, addresses, stream names) never reaches the
// body, and goes to the log at Debug instead.
func TestReadyz(t *testing.T) {
	const secretText = "nats: connection to nats://10.1.2.3:4222 refused; stream ORGSTREAM_EVENTS"
	tests := []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{
			name:   "ready",
			status: 200,
			body:   `{"status":"ready","code":"ready"}`,
		},
		{
			name:   "starting",
			err:    fmt.Errorf("node: starting: opening the log: %s", secretText),
			status: 503,
			body:   `{"status":"not_ready","code":"not_ready"}`,
		},
		{
			name:   "store unreachable",
			err:    fmt.Errorf("store unreachable: %w", errors.New(secretText)),
			status: 503,
			body:   `{"status":"not_ready","code":"not_ready"}`,
		},
		{
			name:   "draining",
			err:    fmt.Errorf("node: %w (%s)", ErrDraining, secretText),
			status: 503,
			body:   `{"status":"draining","code":"draining"}`,
		},
		{
			name:   "log cannot take writes",
			err:    fmt.Errorf("%w: %s", ErrLogUnavailable, secretText),
			status: 503,
			body:   `{"status":"log_unavailable","code":"log_unavailable"}`,
		},
	}
	core, logs := observer.New(zapcore.DebugLevel)
	env := newTestEnv(t, func(c *Config) { c.Logger = zap.New(core) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.ready.set(tt.err)
			defer env.ready.set(nil)
			logs.TakeAll()
			resp, body := get(t, env, "/readyz")
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tt.status, tt.body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if strings.Contains(string(body), "nats") || strings.Contains(string(body), "10.1.2.3") {
				t.Fatalf("body %s carries the internal error", body)
			}
			if tt.err == nil {
				return
			}
			var logged bool
			for _, e := range logs.FilterMessage("readyz: not ready").AllUntimed() {
				if e.Level == zapcore.DebugLevel && strings.Contains(fmt.Sprint(e.ContextMap()["error"]), secretText) {
					logged = true
				}
			}
			if !logged {
				t.Errorf("the internal error is not logged at Debug: %v", logs.AllUntimed())
			}
		})
	}
}

func TestNotFoundAndMethodNotAllowedAreJSON(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, body := get(t, env, "/nope?access_token=x")
	checkErrorBody(t, resp, body, 404, CodeNotFound)

	resp, err := env.client.Post(env.url("/healthz"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	checkErrorBody(t, resp, body, 405, CodeMethodNotAllowed)
	if !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("Allow %q", resp.Header.Get("Allow"))
	}

	req, _ := http.NewRequest(http.MethodGet, env.url("/v2/realtime/orgs/acme/events"), nil)
	resp, err = env.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	checkErrorBody(t, resp, body, 405, CodeMethodNotAllowed)
}

func TestPrometheusMetrics(t *testing.T) {
	env := newTestEnv(t, nil)
	env.metrics.Connections.Store(4)
	env.metrics.EventsDelivered.Add(9)
	resp, body := get(t, env, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("not Prometheus text: %v", err)
	}
	checks := map[string]float64{
		"orgstream_connections":            4,
		"orgstream_events_delivered_total": 9,
	}
	for name, want := range checks {
		f, ok := fams[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		m := f.GetMetric()[0]
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != want {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "orgstream_uptime_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestJSONMetrics(t *testing.T) {
	env := newTestEnv(t, nil)
	env.metrics.OrgsActive.Store(2)
	env.metrics.SetLogStreams([]metrics.LogStream{{Name: "S", Leader: "n7"}})
	resp, body := get(t, env, "/v2/realtime/metrics")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	doc := map[string]float64{}
	for k, v := range raw {
		var f float64
		if json.Unmarshal(v, &f) == nil {
			doc[k] = f
		}
	}
	if string(raw["log"]) != `{"streams":[{"name":"S","leader":"n7"}]}` {
		t.Errorf(`"log" = %s, want the streams the metrics hold`, raw["log"])
	}
	for _, k := range []string{
		"connections", "orgs_active", "nats_subscriptions", "events_published_total",
		"events_delivered_total", "replayed_total", "slow_consumer_disconnects_total", "uptime_s",
	} {
		if _, ok := doc[k]; !ok {
			t.Errorf("key %q missing in %s", k, body)
		}
	}
	if doc["orgs_active"] != 2 || doc["uptime_s"] < 0 {
		t.Fatalf("values %s", body)
	}
}
