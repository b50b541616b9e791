package bench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFormatValue(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{3, "3"},
		{4008, "4008"},
		{12345, "12,345"},
		{-1234567, "-1,234,567"},
		{499999.6, "500,000"},
		{1234.5, "1234"},
		{123.45, "123.5"},
		{25.004, "25.00"},
		{1.5, "1.50"},
		{0.0123456, "0.0123"},
		{-0.5, "-0.5"},
		{math.NaN(), "n/a"},
		{math.Inf(1), "n/a"},
	}
	for _, tc := range cases {
		if got := FormatValue(tc.in); got != tc.want {
			t.Errorf("FormatValue(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestGroupThousands(t *testing.T) {
	cases := map[string]string{"1": "1", "123": "123", "1234": "1,234", "123456": "123,456", "1234567": "1,234,567", "-12345": "-12,345"}
	for in, want := range cases {
		if got := groupThousands(in); got != want {
			t.Errorf("groupThousands(%s) = %s, want %s", in, got, want)
		}
	}
}

// sampleResult is a result with every section filled.
func sampleResult() *Result {
	r := newResult(ScenarioFanout, nil)
	r.Target = TargetInfo{URL: "http://127.0.0.1:1", Started: true, PID: 7, SourceAddrs: 4}
	r.param("connections", 10)
	r.param("odd | name", "a\nb")
	r.metric("deliveries/s", 512345.6, "events/s", "≥ 500k")
	r.metric("gaps", 0, "", "0")
	r.metric("reconnects", 2, "", "")
	var h Histogram
	for i := range 1000 {
		h.Record(int64(i) * 50_000)
	}
	r.latency("publish to receive", h.Snapshot())
	r.Series = []Series{
		{Chart: "throughput over time", Name: "deliveries/s", XLabel: "time (s)", YLabel: "events/s", X: []float64{0, 1, 2}, Y: []float64{0, 500000, 510000}},
		{Chart: "throughput over time", Name: "published/s", XLabel: "time (s)", YLabel: "events/s", X: []float64{0, 1, 2}, Y: []float64{0, 500, 510}},
		{Chart: "RSS", Name: "rss", XLabel: "time (s)", YLabel: "MiB", X: []float64{0, 1}, Y: []float64{20, 30}},
	}
	r.notef("a note")
	return r.finish()
}

func TestResultWrite(t *testing.T) {
	cases := []struct {
		name     string
		failures []string
		status   string
	}{
		{"pass", nil, "PASS"},
		{"fail", []string{"3 gaps (5 events missing)"}, "FAIL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleResult()
			for _, f := range tc.failures {
				r.failf("%s", f)
			}
			dir := filepath.Join(t.TempDir(), "run")
			if err := r.Write(dir); err != nil {
				t.Fatal(err)
			}
			wantCharts := []string{"latency-cdf.svg", "throughput-over-time.svg", "rss.svg"}
			if strings.Join(r.Charts, ",") != strings.Join(wantCharts, ",") {
				t.Errorf("charts = %v, want %v", r.Charts, wantCharts)
			}
			for _, c := range wantCharts {
				b, err := os.ReadFile(filepath.Join(dir, c))
				if err != nil || !strings.Contains(string(b), "<svg") {
					t.Errorf("%s: not an SVG (%v)", c, err)
				}
			}
			b, err := os.ReadFile(filepath.Join(dir, ResultsJSON))
			if err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Scenario != r.Scenario || len(back.Metrics) != 3 || back.OK() != (tc.failures == nil) ||
				back.Latencies[0].Summary != r.Latencies[0].Summary {
				t.Errorf("results.json does not round-trip: %+v", back)
			}
			md, err := os.ReadFile(filepath.Join(dir, ResultsMD))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"# orgstream-bench fanout: " + tc.status,
				"| deliveries/s | 512,346 | events/s | ≥ 500k |",
				"| odd \\| name | a b |",
				"| publish to receive | 1000 |",
				"![latency-cdf](latency-cdf.svg)",
				"- a note",
				"pid 7",
			} {
				if !strings.Contains(string(md), want) {
					t.Errorf("results.md lacks %q:\n%s", want, md)
				}
			}
			if (tc.failures != nil) != strings.Contains(string(md), "## Failures") {
				t.Errorf("failures section: %s", md)
			}
		})
	}
}

func TestSuiteSummary(t *testing.T) {
	ok := sampleResult()
	bad := sampleResult()
	bad.Scenario = ScenarioIdle
	bad.failf("2 streams dropped")
	s := &SuiteResult{Results: []*Result{ok, bad}, Errors: []string{"publish: boom"}}
	var b strings.Builder
	if err := s.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| fanout | PASS | deliveries/s 512,346 events/s (target ≥ 500k); gaps 0 (target 0) | fanout/ |",
		"| idle | FAIL: 2 streams dropped |",
		"| publish | ERROR: boom |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if s.OK() {
		t.Errorf("a suite with a failure is OK")
	}
}

func TestRunDir(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 4, 5, 0, time.UTC)
	if got := RunDir("", "idle", at); got != filepath.Join(DefaultOutDir, "20261128-100405-idle") {
		t.Errorf("RunDir = %s", got)
	}
}

func TestSlug(t *testing.T) {
	cases := map[string]string{"Throughput over time": "throughput-over-time", "daemon RSS (MiB)": "daemon-rss-mib", "!!": "chart"}
	for in, want := range cases {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
