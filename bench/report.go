package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files Write produces in a result folder.
const (
	ResultsJSON = "results.json"
	ResultsMD   = "results.md"
)

// DefaultOutDir is the parent of result folders.
const DefaultOutDir = "./bench-results"

// RunDir is the folder of one run: parent/<timestamp>-<name>.
func RunDir(parent, name string, at time.Time) string {
	if parent == "" {
		parent = DefaultOutDir
	}
	return filepath.Join(parent, at.Format("20060102-150405")+"-"+name)
}

// Write creates dir and writes the charts, results.json and results.md.
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: result dir: %w", err)
	}
	charts, err := writeCharts(dir, r)
	if err != nil {
		return err
	}
	r.Charts = charts
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ResultsJSON), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, ResultsMD))
	if err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	if err := r.WriteMarkdown(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	return nil
}

// WriteMarkdown writes the result as a Markdown page.
func (r *Result) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	status := "PASS"
	if !r.OK() {
		status = "FAIL"
	}
	fmt.Fprintf(&b, "# orgstream-bench %s: %s\n\n", r.Scenario, status)
	fmt.Fprintf(&b, "Started %s, took %s, target %s, %d client source address(es).\n\n",
		r.Started.Format(time.RFC3339), formatSeconds(r.Seconds), targetText(r.Target), r.Target.SourceAddrs)
	if len(r.Params) > 0 {
		b.WriteString("## Parameters\n\n| parameter | value |\n|---|---|\n")
		for _, p := range r.Params {
			fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(p.Name), mdEscape(p.Value))
		}
		b.WriteString("\n")
	}
	if len(r.Metrics) > 0 {
		b.WriteString("## Results\n\n| metric | value | unit | target |\n|---|--:|---|---|\n")
		for _, m := range r.Metrics {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdEscape(m.Name), FormatValue(m.Value), mdEscape(m.Unit), mdEscape(m.Target))
		}
		b.WriteString("\n")
	}
	for _, t := range r.Tables {
		writeTable(&b, t)
	}
	if len(r.Latencies) > 0 {
		b.WriteString("## Latency (ms)\n\n| | count | mean | p50 | p90 | p99 | p99.9 | max |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, l := range r.Latencies {
			s := l.Summary
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(l.Name),
				FormatValue(float64(s.Count)), FormatValue(s.MeanMs), FormatValue(s.P50Ms), FormatValue(s.P90Ms),
				FormatValue(s.P99Ms), FormatValue(s.P999Ms), FormatValue(s.MaxMs))
		}
		b.WriteString("\n")
	}
	if len(r.Failures) > 0 {
		b.WriteString("## Failures\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	if len(r.Charts) > 0 {
		b.WriteString("## Charts\n\n")
		for _, c := range r.Charts {
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(c, filepath.Ext(c)), c)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: write markdown: %w", err)
	}
	return nil
}

// targetText describes the daemons: "URL (…, pid N), 1 node" for one, "a
// 3-node cluster …: b1 URL (pid N), …" for several, the node counts of a
// comparison.
func targetText(ti TargetInfo) string {
	if len(ti.NodeCounts) > 0 {
		labels := make([]string, len(ti.NodeCounts))
		for i, n := range ti.NodeCounts {
			labels[i] = nodesLabel(n)
		}
		return "daemons started by the harness for each run: " + strings.Join(labels, ", then ")
	}
	if ti.NodeCount == 0 && ti.URL == "" {
		return "no daemon (loopback sockets only)"
	}
	if ti.NodeCount <= 1 {
		target := ti.URL
		if ti.Started {
			target += fmt.Sprintf(" (daemon started by the harness, pid %d)", ti.PID)
		} else if ti.PID != 0 {
			target += fmt.Sprintf(" (pid %d)", ti.PID)
		}
		return target + ", 1 node"
	}
	by := ""
	if ti.Started {
		by = " started by the harness"
	}
	parts := make([]string, len(ti.Nodes))
	for i, n := range ti.Nodes {
		parts[i] = n.Name + " " + n.URL
		if n.PID != 0 {
			parts[i] += fmt.Sprintf(" (pid %d)", n.PID)
		}
	}
	return fmt.Sprintf("a %d-node cluster%s: %s", ti.NodeCount, by, strings.Join(parts, ", "))
}

// writeTable writes t as a Markdown section.
func writeTable(b *strings.Builder, t Table) {
	if len(t.Columns) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n|", t.Title)
	for _, c := range t.Columns {
		fmt.Fprintf(b, " %s |", mdEscape(c))
	}
	b.WriteString("\n|" + strings.Repeat("---|", len(t.Columns)) + "\n")
	for _, row := range t.Rows {
		b.WriteString("|")
		for i := range t.Columns {
			cell := ""
			if i < len(row) {
				cell = row[i]
			}
			fmt.Fprintf(b, " %s |", mdEscape(cell))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// FormatValue prints a figure compactly: whole numbers and values from
// 1000 up without decimals (thousands separated from 10,000 up), smaller
// ones with two decimals or three significant digits; NaN and infinities
// as "n/a".
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case math.Abs(v) >= 1e4:
		return groupThousands(fmt.Sprintf("%.0f", v))
	case v == math.Trunc(v) || math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// groupThousands puts commas in the integer digits of s ("-1234567" →
// "-1,234,567").
func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Millisecond).String()
}

// mdEscape keeps a table cell in its cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
