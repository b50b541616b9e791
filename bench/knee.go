package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ScenarioKnee is the command's name for RunKnee.
const ScenarioKnee = "knee"

// DefaultKneeP99 is the p99 publish-to-receive a rate must keep to be
// under the knee.
const DefaultKneeP99 = 25 * time.Millisecond

// centrifugoLabel is Centrifugo's column in the knee report.
const centrifugoLabel = "centrifugo"

// KneeDaemon is one orgstream binary measured by RunKnee.
type KneeDaemon struct {
	// Label names it in the report ("orgstream", "old", "new"…).
	Label string
	// Path is the binary (DaemonConfig.Path).
	Path string
}

// ParseKneeDaemons reads --daemon for the knee: one path, or
// label=path pairs comma-separated ("old=/a/orgstream,new=/b/orgstream").
// A bare path is labelled "orgstream"; labels must be distinct and not
// "centrifugo".
func ParseKneeDaemons(s string) ([]KneeDaemon, error) {
	var ds []KneeDaemon
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%w: knee: empty daemon in %q", ErrConfig, s)
		}
		d := KneeDaemon{Label: "orgstream", Path: part}
		if label, path, ok := strings.Cut(part, "="); ok {
			d = KneeDaemon{Label: strings.TrimSpace(label), Path: strings.TrimSpace(path)}
		}
		if d.Label == "" || d.Path == "" || strings.ContainsAny(d.Label, "/ ") {
			return nil, fmt.Errorf("%w: knee: daemon %q: want label=path", ErrConfig, part)
		}
		if seen[d.Label] || d.Label == centrifugoLabel {
			return nil, fmt.Errorf("%w: knee: daemon label %q used twice or reserved", ErrConfig, d.Label)
		}
		seen[d.Label] = true
		ds = append(ds, d)
	}
	return ds, nil
}

// KneeConfig shapes the knee: the fanout run at each rate, against each
// orgstream binary and Centrifugo in turn, after the loopback floor at the
// same connection count.
type KneeConfig struct {
	// Fanout is the run at every rate (Rate is set per rate). Zero fields
	// take RunFanout's defaults.
	Fanout FanoutConfig
	// Rates are the deliveries/s tried, ascending; each is published as
	// rate ÷ (Conns/Orgs) events/s.
	Rates []float64
	// Target configures the orgstream daemons (Daemon.Path is set per
	// binary) and the clients. URL must be empty.
	Target TargetConfig
	// Daemons are the orgstream binaries. Empty means one, Target's.
	Daemons []KneeDaemon
	// Centrifugo, when not nil, is measured at every rate after the
	// orgstream binaries.
	Centrifugo *CentrifugoConfig
	// P99 is the knee's latency bound. Zero means DefaultKneeP99.
	P99 time.Duration
	// Floor shapes the floor run first (Conns, Size and SourceAddrs are
	// the fanout's); NoFloor leaves it out.
	Floor   FloorConfig
	NoFloor bool
	// Dir is the knee's folder; each run writes Dir/<label>-<rate>.
	Dir string
	// Log receives one line per finished run. Nil means none.
	Log io.Writer
}

func (c *KneeConfig) validate() error {
	if c.Target.URL != "" {
		return fmt.Errorf("%w: knee starts its own daemons, not with a URL", ErrConfig)
	}
	if len(c.Rates) == 0 {
		return fmt.Errorf("%w: knee: no rates", ErrConfig)
	}
	for i, r := range c.Rates {
		if r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) || (i > 0 && r <= c.Rates[i-1]) {
			return fmt.Errorf("%w: knee: rates must be positive and ascending", ErrConfig)
		}
	}
	if len(c.Daemons) == 0 {
		c.Daemons = []KneeDaemon{{Label: "orgstream", Path: c.Target.Daemon.Path}}
	}
	c.P99 = cmp0(c.P99, DefaultKneeP99)
	c.Target.SourceAddrs = cmp0(c.Target.SourceAddrs, DefaultSourceAddrs)
	if c.Dir == "" {
		c.Dir = RunDir(DefaultOutDir, ScenarioKnee, time.Now())
	}
	if c.Fanout.Rate == 0 {
		c.Fanout.Rate = 1 // validated below; set per rate
	}
	return c.Fanout.validate()
}

// KneeRun is one fanout run of the knee.
type KneeRun struct {
	Label string
	Rate  float64 // deliveries/s asked
	// Achieved is the deliveries/s measured.
	Achieved float64
	P50, P99 float64 // ms
	// CPU is the daemon CPU per delivery (µs), NaN when unknown.
	CPU float64
	// Harness is the harness's CPU per delivery (µs).
	Harness float64
	Lost    float64
	OK      bool   // the run passed its own checks
	Err     string // the run could not be made
}

// under reports whether the run is under the knee: made, passed, nothing
// lost, p99 within bound (ms).
func (k KneeRun) under(bound float64) bool {
	return k.Err == "" && k.OK && k.Lost == 0 && k.P99 <= bound
}

// Knee is the highest rate of runs (one label's, ascending) such that it
// and every lower rate are under the bound; 0 when the lowest is not.
func Knee(runs []KneeRun, bound time.Duration) float64 {
	ms := float64(bound) / 1e6
	knee := 0.0
	for _, k := range runs {
		if !k.under(ms) {
			break
		}
		knee = k.Rate
	}
	return knee
}

// RunKnee measures the knee of each orgstream binary and of Centrifugo in
// one run: the floor first, then for each rate (ascending) a fresh fanout
// run against each binary and then Centrifugo, each on a process of its
// own started for the run and stopped after it. It writes one table (rate
// → p50, p99, CPU per delivery and its ratio to the floor, for each) and
// each system's knee with its ratio to Centrifugo's.
func RunKnee(ctx context.Context, cfg KneeConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioKnee, nil)
	r.Target = TargetInfo{Started: true, SourceAddrs: max(cfg.Target.SourceAddrs, 1), NodeCounts: []int{1}}
	fc := cfg.Fanout
	perOrg := float64(fc.Conns) / float64(fc.Orgs)
	r.param("connections", fc.Conns)
	r.param("orgs", fc.Orgs)
	r.param("event data size (bytes)", max(fc.Size, minDataSize))
	r.param("duration per run", fc.Duration)
	r.param("rates (deliveries/s)", strings.Join(formatRates(cfg.Rates), ", "))
	r.param("knee: p99 at most", cfg.P99)
	for _, d := range cfg.Daemons {
		r.param("orgstream "+d.Label, d.Path)
	}
	if cfg.Centrifugo != nil {
		p, err := locateCentrifugo(cfg.Centrifugo.Path)
		if err != nil {
			return nil, err
		}
		r.param("centrifugo", p)
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}

	floor := math.NaN()
	if !cfg.NoFloor {
		flc := cfg.Floor
		flc.Conns, flc.Size, flc.SourceAddrs = fc.Conns, fc.Size, cfg.Target.SourceAddrs
		// The floor holds both ends of each socket in one process: past
		// half the file limit it runs at as many as fit (9,968 of 10,000
		// here), which writes at the same cost per socket.
		if lim, err := RaiseFileLimit(); err == nil && lim > 64 {
			flc.Conns = min(flc.Conns, int(lim-64)/2)
		}
		fres, err := RunFloor(ctx, flc)
		if err != nil {
			return nil, err
		}
		if err := fres.Write(filepath.Join(cfg.Dir, "floor")); err != nil {
			return nil, err
		}
		if m, ok := fres.Metric("writer CPU per write (median round)"); ok && fres.OK() {
			floor = m.Value
		}
		r.metric("floor: CPU per write", floor, "µs", "")
		logf("knee: floor %s µs per write (%d conns)", FormatValue(floor), flc.Conns)
	}

	labels := make([]string, 0, len(cfg.Daemons)+1)
	for _, d := range cfg.Daemons {
		labels = append(labels, d.Label)
	}
	if cfg.Centrifugo != nil {
		labels = append(labels, centrifugoLabel)
	}
	runs := map[string][]KneeRun{}
	for _, rate := range cfg.Rates {
		fc.Rate = rate / perOrg
		for _, label := range labels {
			res, err := kneeRun(ctx, cfg, label, fc)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			k := KneeRun{Label: label, Rate: rate}
			if err != nil {
				k.Err = err.Error()
				r.failf("%s at %s/s: %v", label, FormatValue(rate), err)
			} else {
				k = kneeFigures(k, res)
				if err := res.Write(filepath.Join(cfg.Dir, fmt.Sprintf("%s-%.0f", label, rate))); err != nil {
					return nil, err
				}
			}
			runs[label] = append(runs[label], k)
			logf("knee: %s at %s deliveries/s: p50 %s ms, p99 %s ms, %s µs CPU per delivery, lost %s",
				label, FormatValue(rate), FormatValue(k.P50), FormatValue(k.P99), FormatValue(k.CPU), FormatValue(k.Lost))
		}
	}
	kneeReport(r, cfg, labels, runs, floor)
	return r.finish(), nil
}

// kneeRun is one fanout run against label's system.
func kneeRun(ctx context.Context, cfg KneeConfig, label string, fc FanoutConfig) (*Result, error) {
	if label == centrifugoLabel {
		return RunCentrifugoFanout(ctx, *cfg.Centrifugo, cfg.Target.SourceAddrs, fc)
	}
	tc := cfg.Target
	for _, d := range cfg.Daemons {
		if d.Label == label {
			tc.Daemon.Path = d.Path
		}
	}
	t, err := Open(ctx, tc)
	if err != nil {
		return nil, err
	}
	res, err := RunFanout(ctx, t, fc)
	if cerr := t.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return res, err
}

// kneeFigures reads a fanout result's figures into k.
func kneeFigures(k KneeRun, res *Result) KneeRun {
	get := func(name string) float64 {
		if m, ok := res.Metric(name); ok {
			return m.Value
		}
		return math.NaN()
	}
	k.Achieved, k.P50, k.P99 = get(MetricDeliveriesPerSec), get(MetricP50), get(MetricP99)
	k.CPU, k.Harness, k.Lost = get(MetricDaemonCPUPerDelivery), get(MetricHarnessCPUPerDelivery), get(MetricLost)
	k.OK = res.OK()
	return k
}

// kneeReport writes the rate table, the knees and their ratios.
func kneeReport(r *Result, cfg KneeConfig, labels []string, runs map[string][]KneeRun, floor float64) {
	bound := float64(cfg.P99) / 1e6
	t := Table{Title: "Fan-out by rate", Columns: []string{"deliveries/s asked", "system", "deliveries/s",
		"p50 (ms)", "p99 (ms)", "daemon CPU per delivery (µs)", "÷ floor", "harness CPU per delivery (µs)",
		"lost", "under the knee"}}
	for i, rate := range cfg.Rates {
		for _, label := range labels {
			k := runs[label][i]
			if k.Err != "" {
				t.Rows = append(t.Rows, []string{FormatValue(rate), label, "error: " + k.Err, "", "", "", "", "", "", "no"})
				continue
			}
			under := "no"
			if k.under(bound) {
				under = "yes"
			}
			t.Rows = append(t.Rows, []string{FormatValue(rate), label, FormatValue(k.Achieved), FormatValue(k.P50),
				FormatValue(k.P99), FormatValue(k.CPU), FormatValue(k.CPU / floor), FormatValue(k.Harness),
				FormatValue(k.Lost), under})
		}
	}
	r.Tables = append(r.Tables, t)

	knees := Table{Title: fmt.Sprintf("Knee (highest rate with p99 ≤ %s and nothing lost, every lower rate too)", cfg.P99),
		Columns: []string{"system", "knee (deliveries/s)", "÷ Centrifugo's knee"}}
	ck := math.NaN()
	if cfg.Centrifugo != nil {
		ck = Knee(runs[centrifugoLabel], cfg.P99)
	}
	for _, label := range labels {
		kn := Knee(runs[label], cfg.P99)
		r.metric("knee "+label, kn, "deliveries/s", "")
		ratio := ""
		if label != centrifugoLabel && cfg.Centrifugo != nil {
			switch {
			case ck > 0:
				ratio = FormatValue(kn / ck)
				r.metric("knee "+label+" ÷ centrifugo", kn/ck, "", "≥ 2")
			case kn > 0:
				ratio = "Centrifugo under no rate tried"
			}
		}
		shown := FormatValue(kn)
		if kn == 0 {
			shown = "below " + FormatValue(cfg.Rates[0])
		} else if kn == cfg.Rates[len(cfg.Rates)-1] {
			shown = "≥ " + shown + " (the highest rate tried)"
		}
		knees.Rows = append(knees.Rows, []string{label, shown, ratio})
	}
	r.Tables = append(r.Tables, knees)
	r.notef("each run starts its own process (orgstream: a fresh data dir) and stops it; rates are deliveries/s, " +
		"published as rate ÷ (connections per org) events/s; CPU per delivery is the daemon's CPU seconds while " +
		"publishing and draining ÷ deliveries; ÷ floor divides it by the floor's writer CPU per write at the same connections")
}

// formatRates prints rates for the parameters.
func formatRates(rates []float64) []string {
	out := make([]string, len(rates))
	for i, r := range rates {
		out[i] = strconv.FormatFloat(r, 'f', -1, 64)
	}
	return out
}
