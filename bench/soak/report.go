package soak

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/orgstream/orgstream/bench"
)

// ReportJSON is the campaign's own JSON file in the report folder, beside
// bench's results.json, results.md and the RSS charts.
const ReportJSON = "soak.json"

// Report is what a campaign found.
type Report struct {
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Seconds  float64   `json:"seconds"`
	// Dir is the report folder.
	Dir    string  `json:"dir"`
	Faults []Fault `json:"faults"`
	// Skipped are the faults of the issue not injected, with the reason.
	Skipped []string `json:"skipped"`
	Verdict *Verdict `json:"verdict"`
	// LastWritesBack is the seconds from the last fault's heal until every
	// node acknowledged a write (bound WriteBound).
	LastWritesBack float64 `json:"last_writes_back_s"`
	// CatchUpSeconds is the time from the end of publishing until every
	// subscriber reached its org's last acknowledged seq.
	CatchUpSeconds float64          `json:"catch_up_s"`
	Subscribers    []*SubscriberLog `json:"subscribers"`
	Trends         []Trend          `json:"memory"`
	NodeNames      []string         `json:"nodes"`
	NodeURLs       []string         `json:"node_urls"` // at the end of the run
	RSS            [][]Sample       `json:"rss"`
	Failures       []string         `json:"failures"`
	Notes          []string         `json:"notes,omitempty"`

	// history is written (HistoryJSONL) when the run failed.
	history *History
}

// HistoryJSONL is the file of a failed run's history: one line per
// publish attempt ({"attempt":…}), then one per delivery ({"sub":…,
// "delivery":…}), for the post-mortem.
const HistoryJSONL = "history.jsonl"

// writeHistory writes HistoryJSONL into r.Dir.
func (r *Report) writeHistory() error {
	f, err := os.Create(filepath.Join(r.Dir, HistoryJSONL))
	if err != nil {
		return fmt.Errorf("soak: write history: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, a := range r.history.Attempts {
		_ = enc.Encode(struct {
			A Attempt `json:"attempt"`
		}{a})
	}
	for _, s := range r.history.Subscribers {
		for _, d := range s.Deliveries {
			_ = enc.Encode(struct {
				S string   `json:"sub"`
				D Delivery `json:"delivery"`
			}{s.Name, d})
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("soak: write history: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("soak: write history: %w", err)
	}
	return nil
}

// OK reports whether the campaign held the contract.
func (r *Report) OK() bool { return len(r.Failures) == 0 && r.Verdict != nil && r.Verdict.OK() }

func (r *Report) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// WorstGap returns the longest write unavailability of each fault kind
// injected, in seconds.
func (r *Report) WorstGap() map[string]float64 {
	out := map[string]float64{}
	for _, f := range r.Faults {
		out[f.Kind] = max(out[f.Kind], f.LongestWriteGap)
	}
	return out
}

// Write writes soak.json, and results.md, results.json and one RSS chart
// per node (SVG) through bench.Result, into r.Dir.
func (r *Report) Write() error {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("soak: report dir: %w", err)
	}
	res := r.result()
	if err := res.Write(r.Dir); err != nil {
		return err
	}
	if !r.OK() && r.history != nil {
		if err := r.writeHistory(); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("soak: encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, ReportJSON), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("soak: write report: %w", err)
	}
	return nil
}

// result is the report as a bench.Result: parameters, figures, the fault
// table, the memory table and the RSS series.
func (r *Report) result() *bench.Result {
	res := &bench.Result{Scenario: "soak", Started: r.Started, Seconds: r.Seconds,
		Target:   bench.TargetInfo{Started: true, NodeCount: len(r.NodeNames)},
		Failures: append([]string{}, r.Failures...), Notes: append([]string{}, r.Notes...)}
	for i, n := range r.NodeNames {
		res.Target.Nodes = append(res.Target.Nodes, bench.TargetNode{Name: n, URL: r.NodeURLs[i]})
	}
	res.Params = []bench.Param{
		{Name: "seed", Value: strconv.FormatUint(r.Seed, 10)},
		{Name: "duration", Value: r.Duration},
		{Name: "faults injected", Value: strconv.Itoa(len(r.Faults))},
	}
	v := r.Verdict
	if v == nil {
		v = &Verdict{}
	}
	res.Metrics = []bench.Metric{
		{Name: "events acknowledged", Value: float64(v.Acked)},
		{Name: "events answered with an error at least once", Value: float64(v.Errored)},
		{Name: "events never acknowledged (never delivered either)", Value: float64(v.Unresolved)},
		{Name: "deliveries checked", Value: float64(v.Delivered)},
		{Name: "lost", Value: float64(v.Lost), Target: "0"},
		{Name: "duplicated", Value: float64(v.Duplicated), Target: "0"},
		{Name: "reordered", Value: float64(v.Reordered), Target: "0"},
		{Name: "wrong id or data", Value: float64(v.Mismatched), Target: "0"},
		{Name: "delivered but never acknowledged", Value: float64(v.Phantoms), Target: "0"},
		{Name: "seqs acknowledged for two events", Value: float64(v.DoubleAcked), Target: "0"},
		{Name: "writes acknowledged by every node, after the last heal", Value: r.LastWritesBack, Unit: "s", Target: "≤ 15 s"},
		{Name: "subscribers caught up after publishing", Value: r.CatchUpSeconds, Unit: "s"},
	}
	ends := map[string]int{}
	for _, s := range r.Subscribers {
		for why, n := range s.Ends {
			ends[why] += n
		}
	}
	res.Metrics = append(res.Metrics,
		bench.Metric{Name: "subscriber sessions cut by the heartbeat of a node paused with SIGSTOP (1001 no pong)", Value: float64(ends["1001 no pong"])},
		bench.Metric{Name: "subscriber sessions ended by the subscriber after 4 silent ping intervals", Value: float64(ends["idle"])},
		bench.Metric{Name: "subscriber hops (a session ended by the subscriber's choice, resumed on another node)", Value: float64(ends["hop"])})
	worst := r.WorstGap()
	for _, k := range kinds {
		if g, ok := worst[k]; ok {
			res.Metrics = append(res.Metrics, bench.Metric{Name: "longest write unavailability, " + k, Value: g, Unit: "s"})
		}
	}
	ft := bench.Table{Title: "Faults", Columns: []string{"#", "kind", "node", "start (s)", "held (s)", "healed (s)",
		"writes back after heal (s)", "longest write gap (s)", "note", "error"}}
	for i, f := range r.Faults {
		node := f.Node
		if node == "" {
			node = "all"
		}
		ft.Rows = append(ft.Rows, []string{strconv.Itoa(i + 1), f.Kind, node, sec(f.Start), sec(f.Hold), sec(f.Healed),
			sec(f.WritesBack), sec(f.LongestWriteGap), f.Note, f.Err})
	}
	mt := bench.Table{Title: "Memory (RSS trend test)", Columns: []string{"node", "samples after warm-up",
		"first-third median (MiB)", "last-third median (MiB)", "limit (MiB)", "slope (MiB/min)", "verdict"}}
	for _, tr := range r.Trends {
		verdict := "no upward trend"
		switch {
		case !tr.Tested:
			verdict = "not tested (too few samples)"
		case !tr.OK:
			verdict = "UPWARD TREND"
		}
		mt.Rows = append(mt.Rows, []string{tr.Node, strconv.Itoa(tr.Samples), sec(tr.FirstMiB), sec(tr.LastMiB),
			sec(tr.LimitMiB), fmt.Sprintf("%+.2f", tr.SlopeMiBPerMin), verdict})
	}
	res.Tables = []bench.Table{ft, mt}
	res.Notes = append(res.Notes,
		fmt.Sprintf("Memory test: samples of the first %.0f%% of the run are warm-up and left out; the rest is cut in thirds; an upward trend is a last-third median RSS above %.2f × the first-third median + %.0f MiB. The least-squares slope is shown, not asserted.",
			WarmUpFraction*100, TrendRatio, TrendSlackMiB),
		"Write unavailability: the longest time without any acknowledged publish (any node, any org) from a fault's start to the next fault's start.")
	for _, s := range r.Skipped {
		res.Notes = append(res.Notes, "Skipped fault "+s)
	}
	for i, ss := range r.RSS {
		s := bench.Series{Chart: "RSS " + r.NodeNames[i], Name: r.NodeNames[i], XLabel: "time (s)", YLabel: "RSS (MiB)"}
		for _, p := range ss {
			s.X = append(s.X, p.T)
			s.Y = append(s.Y, p.MiB)
		}
		res.Series = append(res.Series, s)
	}
	return res
}

func sec(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
