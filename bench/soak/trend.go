package soak

import (
	"fmt"
	"slices"
)

// The memory test of a campaign. RSS is sampled on every node throughout;
// the samples of the warm-up (the first WarmUpFraction of the run: caches,
// the org windows and JetStream's buffers fill then) are left out, and the
// rest is cut in thirds. The run has an upward trend when the median of the
// last third exceeds the median of the first third by more than
// TrendRatio, plus TrendSlackMiB for the noise of a small heap. Medians,
// not means: a restarted node's low RSS or a GC's peak moves a median
// little. The least-squares slope is reported beside it, not asserted (a
// restart makes it meaningless on a short run).
const (
	WarmUpFraction = 0.25
	TrendRatio     = 1.25
	TrendSlackMiB  = 32.0
	// minTrendSamples: with fewer samples after warm-up the test is not
	// made (said in the report).
	minTrendSamples = 9
)

// Sample is one RSS reading of a node.
type Sample struct {
	// T is the time since the start of the campaign, in seconds.
	T float64 `json:"t"`
	// MiB is the resident set size.
	MiB float64 `json:"mib"`
}

// Trend is the memory test of one node.
type Trend struct {
	Node string `json:"node"`
	// FirstMiB and LastMiB are the medians of the first and last third of
	// the samples after warm-up.
	FirstMiB float64 `json:"first_third_median_mib"`
	LastMiB  float64 `json:"last_third_median_mib"`
	// LimitMiB is FirstMiB × TrendRatio + TrendSlackMiB.
	LimitMiB float64 `json:"limit_mib"`
	// SlopeMiBPerMin is the least-squares slope after warm-up.
	SlopeMiBPerMin float64 `json:"slope_mib_per_min"`
	Samples        int     `json:"samples"`
	// Tested is false when there were too few samples.
	Tested bool `json:"tested"`
	// OK is false for an upward trend.
	OK bool `json:"ok"`
}

// TrendOf tests the samples of one node, taken over a run of runSeconds.
func TrendOf(node string, samples []Sample, runSeconds float64) Trend {
	tr := Trend{Node: node, OK: true}
	from := runSeconds * WarmUpFraction
	var kept []Sample
	for _, s := range samples {
		if s.T >= from {
			kept = append(kept, s)
		}
	}
	tr.Samples = len(kept)
	if len(kept) < minTrendSamples {
		return tr
	}
	third := len(kept) / 3
	tr.FirstMiB = median(kept[:third])
	tr.LastMiB = median(kept[len(kept)-third:])
	tr.LimitMiB = tr.FirstMiB*TrendRatio + TrendSlackMiB
	tr.SlopeMiBPerMin = slope(kept) * 60
	tr.Tested = true
	tr.OK = tr.LastMiB <= tr.LimitMiB
	return tr
}

// String says the finding in one line.
func (tr Trend) String() string {
	if !tr.Tested {
		return fmt.Sprintf("%s: not tested, %d samples after warm-up (need %d)", tr.Node, tr.Samples, minTrendSamples)
	}
	verdict := "no upward trend"
	if !tr.OK {
		verdict = "UPWARD TREND"
	}
	return fmt.Sprintf("%s: %s: median RSS %.1f MiB in the first third after warm-up, %.1f MiB in the last (limit %.1f), slope %+.2f MiB/min over %d samples",
		tr.Node, verdict, tr.FirstMiB, tr.LastMiB, tr.LimitMiB, tr.SlopeMiBPerMin, tr.Samples)
}

func median(ss []Sample) float64 {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		vs[i] = s.MiB
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// slope is the least-squares slope of MiB over T (MiB per second).
func slope(ss []Sample) float64 {
	n := float64(len(ss))
	var sx, sy, sxx, sxy float64
	for _, s := range ss {
		sx += s.T
		sy += s.MiB
		sxx += s.T * s.T
		sxy += s.T * s.MiB
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
