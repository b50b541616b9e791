package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// ScenarioClusterCompare is the command's name for RunClusterCompare.
const ScenarioClusterCompare = "cluster-compare"

// CompareFanout is cluster-compare's default run: 3,000 streams over 10
// orgs at the full suite's 500 events/s of 256 B (150k deliveries/s asked)
// for 20 s, a size three daemons and the harness hold on two cores.
func CompareFanout() FanoutConfig {
	return FanoutConfig{Conns: 3000, Orgs: 10, Rate: 500, Size: 256, Duration: 20 * time.Second}
}

// CompareConfig shapes cluster-compare: the same fanout run on one daemon,
// then on a cluster started by the harness, reported side by side.
type CompareConfig struct {
	// Target configures the daemons and clients. URL must be empty: every
	// run starts its own daemons (Target.Nodes is set per run).
	Target TargetConfig
	// Fanout is the run, the same for every node count. Zero fields take
	// RunFanout's defaults.
	Fanout FanoutConfig
	// Nodes are the node counts compared, in order; the first is the base
	// of the ratios. Empty means 1 then 3.
	Nodes []int
	// Dir is the comparison's folder (results.json, results.md, charts);
	// each run writes its own folder Dir/nodes-N. Empty means
	// RunDir(DefaultOutDir, ScenarioClusterCompare, now).
	Dir string
	// Log receives one line per finished run. Nil means none.
	Log io.Writer
}

func (c *CompareConfig) validate() error {
	if c.Target.URL != "" {
		return fmt.Errorf("%w: cluster-compare starts its own daemons, not with a URL", ErrConfig)
	}
	if len(c.Nodes) == 0 {
		c.Nodes = []int{1, 3}
	}
	for _, n := range c.Nodes {
		if n < 1 || n > MaxNodes {
			return fmt.Errorf("%w: cluster-compare: node count %d not in 1..%d", ErrConfig, n, MaxNodes)
		}
	}
	if c.Dir == "" {
		c.Dir = RunDir(DefaultOutDir, ScenarioClusterCompare, time.Now())
	}
	return c.Fanout.validate()
}

// nodesLabel is "1 node" or "N nodes".
func nodesLabel(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

// RunClusterCompare runs the fanout scenario once per node count, each on
// daemons the harness starts (a cluster when above 1) and stops, one after
// the other, and writes one report with a row per run and the ratios to
// the first. A run that fails (a gap, a duplicate, a daemon that did not
// start…) fails the comparison; only a cancelled ctx stops it early.
func RunClusterCompare(ctx context.Context, cfg CompareConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioClusterCompare, nil)
	r.Target = TargetInfo{Started: true, NodeCounts: cfg.Nodes}
	fc := cfg.Fanout
	counts := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		counts[i] = fmt.Sprint(n)
	}
	r.param("node counts", strings.Join(counts, ", "))
	r.param("connections", fc.Conns)
	r.param("orgs", fc.Orgs)
	r.param("rate (events/s, all orgs)", fc.Rate)
	r.param("event data size (bytes)", max(fc.Size, minDataSize))
	r.param("duration", fc.Duration)
	r.param("spread", "streams round-robin over the nodes per org; org i published through node i mod N")

	table := Table{Title: "Side by side", Columns: compareColumns}
	runs := make([]*Result, len(cfg.Nodes))
	for k, n := range cfg.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fr, err := compareRun(ctx, cfg, n)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			r.failf("%s: %s", nodesLabel(n), first)
			logf(cfg.Log, "%s: ERROR %v\n", nodesLabel(n), err)
			table.Rows = append(table.Rows, []string{fmt.Sprint(n), "ERROR: " + first})
			continue
		}
		runs[k] = fr
		r.Target.SourceAddrs = fr.Target.SourceAddrs
		status := "PASS"
		if !fr.OK() {
			status = "FAIL"
			for _, f := range fr.Failures {
				r.failf("%s: %s", nodesLabel(n), f)
			}
		}
		logf(cfg.Log, "%s: %s (%s)\n", nodesLabel(n), status, formatSeconds(fr.Seconds))
		addCompareRun(r, fr, n)
		table.Rows = append(table.Rows, compareRow(fr, n, status))
	}
	addRatios(r, cfg.Nodes, runs)
	r.Tables = append(r.Tables, table)
	r.notef("each run starts its own daemons on this machine; the harness shares its cores with all of them")
	r.finish()
	return r, r.Write(cfg.Dir)
}

// compareRun starts n daemons, runs the fanout on them, stops them and
// writes the run's folder.
func compareRun(ctx context.Context, cfg CompareConfig, n int) (*Result, error) {
	tc := cfg.Target
	tc.Nodes = n
	t, err := Open(ctx, tc)
	if err != nil {
		return nil, err
	}
	fr, err := RunFanout(ctx, t, cfg.Fanout)
	cerr := t.Close()
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		fr.notef("stopping the daemons: %v", cerr)
	}
	return fr, fr.Write(filepath.Join(cfg.Dir, fmt.Sprintf("nodes-%d", n)))
}

// compareMetrics are the fanout metrics carried into the comparison.
var compareMetrics = []string{"deliveries/s", "latency p50", "latency p99", "latency max", "gaps", "duplicates",
	"daemon RSS total", "daemon CPU while publishing", "harness CPU while publishing"}

// addCompareRun copies fr's headline figures, latency distribution and
// throughput series into r, labelled with the node count.
func addCompareRun(r *Result, fr *Result, n int) {
	label := nodesLabel(n)
	for _, name := range compareMetrics {
		if m, ok := fr.Metric(name); ok {
			target := "" // the single-node targets do not apply to a side-by-side
			if name == "gaps" || name == "duplicates" {
				target = m.Target
			}
			r.metric(label+": "+name, m.Value, m.Unit, target)
		}
	}
	for _, l := range fr.Latencies {
		if l.Name == "publish to receive" {
			l.Name += ", " + label
			r.Latencies = append(r.Latencies, l)
		}
	}
	for _, s := range fr.Series {
		if s.Chart == "throughput over time" && s.Name == "deliveries/s" {
			s.Name += ", " + label
			r.Series = append(r.Series, s)
		}
	}
}

// addRatios adds, for every run after the first, its deliveries/s and
// p99 over the first's.
func addRatios(r *Result, nodes []int, runs []*Result) {
	if len(runs) < 2 || runs[0] == nil {
		return
	}
	base := nodesLabel(nodes[0])
	for k := 1; k < len(runs); k++ {
		if runs[k] == nil {
			continue
		}
		for _, name := range []string{"deliveries/s", "latency p99"} {
			a, okA := runs[k].Metric(name)
			b, okB := runs[0].Metric(name)
			if okA && okB && b.Value > 0 {
				r.metric(fmt.Sprintf("%s, %s ÷ %s", name, nodesLabel(nodes[k]), base), a.Value/b.Value, "×", "")
			}
		}
	}
}

// compareColumns head the side-by-side table.
var compareColumns = []string{"nodes", "status", "deliveries/s", "asked", "p50 ms", "p99 ms", "max ms",
	"gaps", "dups", "streams per node", "RSS per node MiB", "RSS total MiB", "daemons CPU", "harness CPU", "folder"}

// compareRow is fr's row of the side-by-side table.
func compareRow(fr *Result, n int, status string) []string {
	val := func(name string) string {
		if m, ok := fr.Metric(name); ok {
			return FormatValue(m.Value)
		}
		return "n/a"
	}
	var streams, rss []string
	for _, node := range fr.Target.Nodes {
		streams = append(streams, node.Name+" "+val("node "+node.Name+": streams open"))
		rss = append(rss, node.Name+" "+val("node "+node.Name+": RSS"))
	}
	return []string{fmt.Sprint(n), status, val("deliveries/s"), val("deliveries/s asked"),
		val("latency p50"), val("latency p99"), val("latency max"), val("gaps"), val("duplicates"),
		strings.Join(streams, ", "), strings.Join(rss, ", "), val("daemon RSS total"),
		val("daemon CPU while publishing"), val("harness CPU while publishing"),
		fmt.Sprintf("nodes-%d/", n)}
}
