package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrUnknownScenario is returned for a scenario name not in Scenarios.
var ErrUnknownScenario = errors.New("bench: unknown scenario")

// Sizes holds one configuration per scenario.
type Sizes struct {
	Idle    IdleConfig
	Fanout  FanoutConfig
	Resume  ResumeConfig
	Publish PublishConfig
	Slow    SlowConfig
	Large   LargeConfig
}

// ShortSizes are the sizes of `suite --short`: every scenario, small, the
// whole suite in well under three minutes on two cores.
func ShortSizes() Sizes {
	return Sizes{
		Idle:    IdleConfig{Conns: 5000, Orgs: 10, Hold: 2 * time.Second, Settle: time.Second},
		Fanout:  FanoutConfig{Conns: 2000, Orgs: 10, Rate: 200, Size: 256, Duration: 8 * time.Second},
		Resume:  ResumeConfig{Clients: 2000, Orgs: 10, Events: 200},
		Publish: PublishConfig{Batches: []int{1, 10, 100}, Orgs: 8, Duration: 2 * time.Second},
		Slow:    SlowConfig{Readers: 10, Rate: 2000, Size: 1024, Baseline: 2 * time.Second, MaxFlood: 20 * time.Second},
		Large:   LargeConfig{Readers: 5, Total: 256 << 20},
	}
}

// FullSizes are the target sizes: 19k idle streams (one daemon's
// file limit here is 20k), 10k streams over 10 orgs at 500 events/s of
// 256 B (aiming at 500k deliveries/s), 10k clients resuming 1000 missed
// events each, batched publish.
func FullSizes() Sizes {
	return Sizes{
		Idle:    IdleConfig{Conns: 19000, Orgs: 100, Hold: 10 * time.Second},
		Fanout:  FanoutConfig{Conns: 10000, Orgs: 10, Rate: 500, Size: 256, Duration: 30 * time.Second},
		Resume:  ResumeConfig{Clients: 10000, Orgs: 10, Events: 1000},
		Publish: PublishConfig{Batches: []int{1, 10, 100, 1000}, Orgs: 16, Duration: 10 * time.Second},
		Slow:    SlowConfig{Readers: 100, Rate: 5000, Size: 1024},
		Large:   LargeConfig{Readers: 10, Total: 1 << 30},
	}
}

// RunScenario runs the scenario called name on t with its size from s.
func RunScenario(ctx context.Context, t *Target, name string, s Sizes) (*Result, error) {
	switch name {
	case ScenarioIdle:
		return RunIdle(ctx, t, s.Idle)
	case ScenarioFanout:
		return RunFanout(ctx, t, s.Fanout)
	case ScenarioResumeStorm:
		return RunResumeStorm(ctx, t, s.Resume)
	case ScenarioPublish:
		return RunPublish(ctx, t, s.Publish)
	case ScenarioSlowConsumer:
		return RunSlowConsumer(ctx, t, s.Slow)
	case ScenarioLargeEvents:
		return RunLargeEvents(ctx, t, s.Large)
	}
	return nil, fmt.Errorf("%w: %q (one of %s)", ErrUnknownScenario, name, strings.Join(Scenarios, ", "))
}

// SuiteConfig shapes a suite run.
type SuiteConfig struct {
	// Target is where to run. With an empty URL every scenario gets a
	// fresh daemon, so that one's leftovers do not weigh on the next.
	Target TargetConfig
	// Sizes are the scenarios' sizes. Zero means FullSizes (ShortSizes
	// with Short).
	Sizes *Sizes
	// Short selects ShortSizes when Sizes is nil.
	Short bool
	// Scenarios are the scenarios run, in order. Empty means Scenarios.
	Scenarios []string
	// Dir is the suite's folder; each scenario writes into Dir/<scenario>.
	// Empty means RunDir(DefaultOutDir, "suite", now).
	Dir string
	// Log receives one line per finished scenario. Nil means none.
	Log io.Writer
}

// SuiteResult is the outcome of RunSuite.
type SuiteResult struct {
	Dir     string
	Results []*Result
	// Errors are scenarios that could not run at all (name: error).
	Errors []string
}

// OK reports whether every scenario ran and passed.
func (s *SuiteResult) OK() bool {
	if len(s.Errors) > 0 {
		return false
	}
	for _, r := range s.Results {
		if !r.OK() {
			return false
		}
	}
	return true
}

// RunSuite runs the scenarios one after the other, writes each result into
// its folder and a summary.md into Dir. A scenario that errors is recorded
// and the suite goes on; only a cancelled ctx stops it early.
func RunSuite(ctx context.Context, cfg SuiteConfig) (*SuiteResult, error) {
	sizes := FullSizes()
	if cfg.Short {
		sizes = ShortSizes()
	}
	if cfg.Sizes != nil {
		sizes = *cfg.Sizes
	}
	names := cfg.Scenarios
	if len(names) == 0 {
		names = Scenarios
	}
	sr := &SuiteResult{Dir: cfg.Dir}
	if sr.Dir == "" {
		sr.Dir = RunDir(DefaultOutDir, "suite", time.Now())
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return sr, err
		}
		r, err := runOne(ctx, cfg.Target, name, sizes, filepath.Join(sr.Dir, name))
		if err != nil {
			sr.Errors = append(sr.Errors, fmt.Sprintf("%s: %v", name, err))
			logf(cfg.Log, "%s: ERROR %v\n", name, err)
			continue
		}
		sr.Results = append(sr.Results, r)
		status := "PASS"
		if !r.OK() {
			status = "FAIL: " + strings.Join(r.Failures, "; ")
		}
		logf(cfg.Log, "%s: %s (%s)\n", name, status, formatSeconds(r.Seconds))
	}
	if err := os.MkdirAll(sr.Dir, 0o755); err != nil {
		return sr, fmt.Errorf("bench: suite dir: %w", err)
	}
	f, err := os.Create(filepath.Join(sr.Dir, "summary.md"))
	if err != nil {
		return sr, fmt.Errorf("bench: summary: %w", err)
	}
	werr := sr.WriteSummary(f)
	if err := f.Close(); werr == nil && err != nil {
		werr = fmt.Errorf("bench: summary: %w", err)
	}
	return sr, werr
}

// runOne opens the target, runs one scenario and writes its folder.
func runOne(ctx context.Context, tc TargetConfig, name string, s Sizes, dir string) (*Result, error) {
	t, err := Open(ctx, tc)
	if err != nil {
		return nil, err
	}
	r, err := RunScenario(ctx, t, name, s)
	cerr := t.Close()
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		r.notef("stopping the daemon: %v", cerr)
	}
	if err := r.Write(dir); err != nil {
		return r, err
	}
	return r, nil
}

// WriteSummary writes one Markdown table: per scenario its status and its
// headline figures (those with a target).
func (s *SuiteResult) WriteSummary(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| scenario | status | headline figures | folder |\n|---|---|---|---|\n")
	for _, r := range s.Results {
		status := "PASS"
		if !r.OK() {
			status = "FAIL: " + mdEscape(strings.Join(r.Failures, "; "))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Scenario, status, mdEscape(Headline(r)), r.Scenario+"/")
	}
	for _, e := range s.Errors {
		name, msg, _ := strings.Cut(e, ": ")
		fmt.Fprintf(&b, "| %s | ERROR: %s | | |\n", name, mdEscape(msg))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: write summary: %w", err)
	}
	return nil
}

// Headline prints the metrics of r that carry a target ("name value unit
// (target)"), separated by "; ".
func Headline(r *Result) string {
	var parts []string
	for _, m := range r.Metrics {
		if m.Target == "" {
			continue
		}
		v := FormatValue(m.Value)
		if m.Unit != "" {
			v += " " + m.Unit
		}
		parts = append(parts, fmt.Sprintf("%s %s (target %s)", m.Name, v, m.Target))
	}
	return strings.Join(parts, "; ")
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		_, _ = fmt.Fprintf(w, format, args...)
	}
}
