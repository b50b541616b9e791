package bench

import (
	"fmt"
	"time"
)

// Result is one scenario run: what was asked, what was measured, and
// whether the run holds up (Failures empty). It is written by Write as
// results.json, results.md and charts.
type Result struct {
	Scenario string     `json:"scenario"`
	Started  time.Time  `json:"started"`
	Seconds  float64    `json:"seconds"`
	Target   TargetInfo `json:"target"`
	// Params are the scenario's settings, in display order.
	Params []Param `json:"params"`
	// Metrics are the figures, in display order.
	Metrics []Metric `json:"metrics"`
	// Tables are figures side by side (one row per run, say), shown
	// after Metrics.
	Tables []Table `json:"tables,omitempty"`
	// Latencies are latency distributions (ms).
	Latencies []Latency `json:"latencies,omitempty"`
	// Series are values over time (or over another x), drawn by Write.
	Series []Series `json:"series,omitempty"`
	// Failures are the reasons the run failed (gaps, duplicates, clients
	// that could not connect, …); empty for a passing run.
	Failures []string `json:"failures"`
	// Notes are remarks that do not fail the run.
	Notes []string `json:"notes,omitempty"`
	// Charts are the chart files Write produced, relative to its folder.
	Charts []string `json:"charts,omitempty"`
}

// TargetInfo describes the daemons a result was measured on.
type TargetInfo struct {
	// URL and PID are the first node's.
	URL         string `json:"url"`
	Started     bool   `json:"started_by_harness"`
	PID         int    `json:"pid,omitempty"`
	SourceAddrs int    `json:"source_addrs"`
	// NodeCount is the number of daemons (a cluster when above 1).
	NodeCount int `json:"node_count"`
	// Nodes are the daemons, in order.
	Nodes []TargetNode `json:"nodes,omitempty"`
	// NodeCounts are, for a comparison, the node count of each run (each
	// on daemons of its own); NodeCount and Nodes are then empty.
	NodeCounts []int `json:"node_counts,omitempty"`
}

// Table is a Markdown table of a result.
type Table struct {
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Param is one setting of a run.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Metric is one figure of a run. Target, when set, is the goal for
// reference (not asserted).
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	Target string  `json:"target,omitempty"`
}

// Latency is a named latency distribution: its summary and its CDF.
type Latency struct {
	Name    string  `json:"name"`
	Summary Summary `json:"summary"`
	// CDF points: latency in ms and the fraction of values at or below.
	CDFMs       []float64 `json:"cdf_ms,omitempty"`
	CDFFraction []float64 `json:"cdf_fraction,omitempty"`
}

// Series is a line of a chart: Y over X. Series with the same Chart are
// drawn together.
type Series struct {
	Chart  string    `json:"chart"`
	Name   string    `json:"name"`
	XLabel string    `json:"x_label"`
	YLabel string    `json:"y_label"`
	X      []float64 `json:"x"`
	Y      []float64 `json:"y"`
}

// OK reports whether the run passed.
func (r *Result) OK() bool { return len(r.Failures) == 0 }

// newResult starts a Result for scenario on t.
func newResult(scenario string, t *Target) *Result {
	r := &Result{Scenario: scenario, Started: time.Now(), Failures: []string{}}
	if t != nil {
		r.Target = TargetInfo{URL: t.BaseURL, Started: t.Started, PID: t.PID, SourceAddrs: t.SourceAddrs(),
			NodeCount: len(t.Nodes), Nodes: t.Nodes}
	}
	return r
}

func (r *Result) param(name string, v any) {
	r.Params = append(r.Params, Param{Name: name, Value: fmt.Sprint(v)})
}

func (r *Result) metric(name string, v float64, unit, target string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit, Target: target})
}

func (r *Result) failf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func (r *Result) notef(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// latency adds a distribution of nanoseconds under name.
func (r *Result) latency(name string, d *Distribution) {
	l := Latency{Name: name, Summary: d.Summary()}
	vs, fs := d.CDF(200)
	for i, v := range vs {
		l.CDFMs = append(l.CDFMs, float64(v)/1e6)
		l.CDFFraction = append(l.CDFFraction, fs[i])
	}
	r.Latencies = append(r.Latencies, l)
}

// Metric returns the metric called name, if any.
func (r *Result) Metric(name string) (Metric, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// finish stamps the duration.
func (r *Result) finish() *Result {
	r.Seconds = time.Since(r.Started).Seconds()
	return r
}
