package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
)

// openNode starts an in-process node (real embedded NATS, real sockets) and
// opens a Target on it; the node's RSS is this test process's.
func openNode(t *testing.T, mutate func(*node.Config)) *Target {
	t.Helper()
	n := testkit.StartNode(t, mutate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tg, err := Open(ctx, TargetConfig{URL: n.BaseURL(), Secret: n.Secret, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	return tg
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// metricValue fails t when r lacks metric name.
func metricValue(t *testing.T, r *Result, name string) float64 {
	t.Helper()
	m, ok := r.Metric(name)
	if !ok {
		t.Fatalf("no metric %q in %+v", name, r.Metrics)
	}
	return m.Value
}

func requireOK(t *testing.T, r *Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("%s failed: %v (notes %v)", r.Scenario, r.Failures, r.Notes)
	}
}

func TestRunIdle(t *testing.T) {
	t.Parallel()
	tg := openNode(t, nil)
	r, err := RunIdle(testCtx(t), tg, IdleConfig{Conns: 50, Orgs: 3, Hold: 200 * time.Millisecond, Settle: 50 * time.Millisecond})
	requireOK(t, r, err)
	if got := metricValue(t, r, "connections opened"); got != 50 {
		t.Errorf("opened %v streams, want 50", got)
	}
	if got := metricValue(t, r, "streams open at the end of the hold"); got != 50 {
		t.Errorf("%v streams open at the end, want 50", got)
	}
	metricValue(t, r, "goroutines per connection")
	metricValue(t, r, "RSS per connection")
	metricValue(t, r, "heap in use per connection")
	if v := metricValue(t, r, "heap in use ÷ RSS (after)"); v <= 0 {
		t.Errorf("heap in use ÷ RSS = %v", v)
	}
}

func TestRunFanout(t *testing.T) {
	t.Parallel()
	for _, noPoll := range []bool{false, true} {
		t.Run(map[bool]string{false: "pollers", true: "goroutine per stream"}[noPoll], func(t *testing.T) {
			t.Parallel()
			testRunFanout(t, noPoll)
		})
	}
}

func testRunFanout(t *testing.T, noPoll bool) {
	tg := openNode(t, nil)
	r, err := RunFanout(testCtx(t), tg, FanoutConfig{Conns: 30, Orgs: 3, Rate: 300, Size: 100, Duration: time.Second, NoPoll: noPoll})
	requireOK(t, r, err)
	published := metricValue(t, r, "events published")
	if published < 200 {
		t.Errorf("published %v events, want about 300", published)
	}
	// Every stream gets every event of its org: 10 streams per org.
	if got := metricValue(t, r, "deliveries"); got != published*10 {
		t.Errorf("deliveries = %v, want %v", got, published*10)
	}
	if r.Latencies[0].Summary.Count != uint64(published*10) {
		t.Errorf("latency samples = %d, want %v", r.Latencies[0].Summary.Count, published*10)
	}
	for _, name := range []string{"gaps", "duplicates", "missing events"} {
		if v := metricValue(t, r, name); v != 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
}

func TestRunResumeStorm(t *testing.T) {
	t.Parallel()
	tg := openNode(t, nil)
	r, err := RunResumeStorm(testCtx(t), tg, ResumeConfig{Clients: 40, Orgs: 4, Events: 150, Batch: 40})
	requireOK(t, r, err)
	if got := metricValue(t, r, "events replayed (received)"); got != 40*150 {
		t.Errorf("replayed %v events, want %d", got, 40*150)
	}
	if got := metricValue(t, r, "daemon replayed_total delta"); got != 40*150 {
		t.Errorf("daemon replayed %v, want %d", got, 40*150)
	}
}

func TestRunPublish(t *testing.T) {
	t.Parallel()
	tg := openNode(t, nil)
	r, err := RunPublish(testCtx(t), tg, PublishConfig{Batches: []int{1, 10}, Orgs: 2, Duration: 200 * time.Millisecond})
	requireOK(t, r, err)
	if len(r.Latencies) != 4 {
		t.Errorf("%d latency rows, want 4 (2 modes × 2 batch sizes)", len(r.Latencies))
	}
	if v := metricValue(t, r, "parallel ×2 orgs, batch 10: events/s"); v <= 0 {
		t.Errorf("parallel batch 10: %v events/s", v)
	}
}

func TestRunSlowConsumer(t *testing.T) {
	t.Parallel()
	tg := openNode(t, func(c *node.Config) { c.MaxQueueBytes = messages.MaxPublishFrames })
	r, err := RunSlowConsumer(testCtx(t), tg, SlowConfig{Readers: 3, Rate: 1000, Size: 8 << 10,
		Baseline: 300 * time.Millisecond, MaxFlood: 20 * time.Second})
	requireOK(t, r, err)
	if got := metricValue(t, r, "slow reader close code"); got != 4008 {
		t.Errorf("close code %v, want 4008", got)
	}
}

// Events of the largest size reach every reader, none is cut, and the
// daemon's RSS growth is reported against its bound.
func TestRunLargeEvents(t *testing.T) {
	t.Parallel()
	tg := openNode(t, nil)
	// The in-process node shares its RSS with this test's clients and the
	// race detector: the bound is the harness's, run on a daemon (make
	// bench-large); here a bound that cannot bite.
	r, err := RunLargeEvents(testCtx(t), tg, LargeConfig{Readers: 2, Total: 24 << 20, WindowBytes: 1 << 30})
	requireOK(t, r, err)
	if got := metricValue(t, r, "events published"); got != 24 {
		t.Errorf("%v events published, want 24", got)
	}
}

func TestRunSuiteWritesEveryFolder(t *testing.T) {
	t.Parallel()
	tg := openNode(t, nil)
	dir := filepath.Join(t.TempDir(), "suite")
	sizes := Sizes{
		Idle:    IdleConfig{Conns: 10, Orgs: 2, Hold: 50 * time.Millisecond, Settle: 10 * time.Millisecond},
		Publish: PublishConfig{Batches: []int{5}, Orgs: 2, Duration: 100 * time.Millisecond},
	}
	sr, err := RunSuite(testCtx(t), SuiteConfig{
		Target:    TargetConfig{URL: tg.BaseURL, Secret: tg.secret},
		Sizes:     &sizes,
		Scenarios: []string{ScenarioIdle, ScenarioPublish, "nope"},
		Dir:       dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Results) != 2 || len(sr.Errors) != 1 || sr.OK() {
		t.Fatalf("suite: %d results, errors %v", len(sr.Results), sr.Errors)
	}
	for _, f := range []string{"summary.md", "idle/results.json", "idle/results.md", "publish/results.md", "publish/latency-cdf.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tg := &Target{}
	ctx := context.Background()
	cases := []struct {
		name string
		run  func() error
	}{
		{"idle negative", func() error { _, err := RunIdle(ctx, tg, IdleConfig{Conns: -1}); return err }},
		{"fanout batch", func() error { _, err := RunFanout(ctx, tg, FanoutConfig{MaxBatch: 1001}); return err }},
		{"resume negative", func() error { _, err := RunResumeStorm(ctx, tg, ResumeConfig{Events: -1}); return err }},
		{"publish batch 0", func() error { _, err := RunPublish(ctx, tg, PublishConfig{Batches: []int{0}}); return err }},
		{"slow negative", func() error { _, err := RunSlowConsumer(ctx, tg, SlowConfig{Rate: -1}); return err }},
		{"large negative", func() error { _, err := RunLargeEvents(ctx, tg, LargeConfig{Total: -1}); return err }},
		{"large over the body", func() error { _, err := RunLargeEvents(ctx, tg, LargeConfig{Size: largestData + 1}); return err }},
		{"target URL", func() error { _, err := Open(ctx, TargetConfig{URL: "ftp://x", Secret: []byte("s")}); return err }},
		{"target secret", func() error { _, err := Open(ctx, TargetConfig{URL: "http://127.0.0.1:1"}); return err }},
	}
	for _, tc := range cases {
		if err := tc.run(); err == nil || !isConfigErr(err) {
			t.Errorf("%s: err = %v, want ErrConfig", tc.name, err)
		}
	}
	if _, err := RunScenario(ctx, tg, "nope", Sizes{}); err == nil {
		t.Errorf("unknown scenario accepted")
	}
}

func isConfigErr(err error) bool { return errors.Is(err, ErrConfig) }
