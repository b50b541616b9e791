package bench

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Chart size.
const (
	chartWidth  = 8 * vg.Inch
	chartHeight = 4.5 * vg.Inch
)

// palette colours the lines of one chart.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

// writeCharts draws r's latency CDFs (one chart, log latency axis) and its
// series (one chart per Series.Chart) as SVG files in dir, and returns their
// names.
func writeCharts(dir string, r *Result) ([]string, error) {
	var files []string
	if len(r.Latencies) > 0 {
		name := "latency-cdf.svg"
		if err := latencyChart(r).Save(chartWidth, chartHeight, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("bench: chart %s: %w", name, err)
		}
		files = append(files, name)
	}
	var order []string
	groups := map[string][]Series{}
	for _, s := range r.Series {
		if _, ok := groups[s.Chart]; !ok {
			order = append(order, s.Chart)
		}
		groups[s.Chart] = append(groups[s.Chart], s)
	}
	for _, chart := range order {
		p, err := seriesChart(r.Scenario, chart, groups[chart])
		if err != nil {
			return nil, err
		}
		name := slug(chart) + ".svg"
		if err := p.Save(chartWidth, chartHeight, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("bench: chart %s: %w", name, err)
		}
		files = append(files, name)
	}
	return files, nil
}

func latencyChart(r *Result) *plot.Plot {
	p := plot.New()
	p.Title.Text = r.Scenario + ": latency CDF"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of events ≤ latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ticks125{}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	for i, l := range r.Latencies {
		xys := make(plotter.XYs, 0, len(l.CDFMs))
		for j, ms := range l.CDFMs {
			xys = append(xys, plotter.XY{X: max(ms, 0.001), Y: l.CDFFraction[j]})
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(l.Name, line)
	}
	return p
}

func seriesChart(scenario, chart string, ss []Series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = scenario + ": " + chart
	p.X.Label.Text = ss[0].XLabel
	p.Y.Label.Text = ss[0].YLabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i, s := range ss {
		xys := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if j < len(s.Y) {
				xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("bench: chart %s: %w", chart, err)
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		if len(ss) > 1 {
			p.Legend.Add(s.Name, line)
		}
	}
	return p, nil
}

// ticks125 labels a log axis at 1, 2 and 5 times each power of ten, with
// unlabelled minor ticks between.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 4, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug turns a chart title into a file name.
func slug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "chart"
	}
	return s
}
