package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress redraws one status line ("\r…") on w every interval until
// stopped. status returns the text after the elapsed time.
type progress struct {
	w      io.Writer
	name   string
	status func() string
	start  time.Time
	stopc  chan struct{}
	done   chan struct{}
	once   sync.Once
	width  int
}

// startProgress starts the display; with a nil w it does nothing (but stop
// is still safe).
func startProgress(w io.Writer, name string, status func() string) *progress {
	p := &progress{w: w, name: name, status: status, start: time.Now(),
		stopc: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopc:
			p.draw()
			_, _ = io.WriteString(p.w, "\n")
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	line := fmt.Sprintf("[%s] %5.1fs  %s", p.name, time.Since(p.start).Seconds(), p.status())
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	_, _ = io.WriteString(p.w, "\r"+line+pad)
}

// stop draws the last line, ends it, and waits. Safe to call twice.
func (p *progress) stop() {
	p.once.Do(func() {
		if p.w != nil {
			close(p.stopc)
		}
	})
	<-p.done
}

// sampler records, every interval, the rate of change of cumulative
// counters (per second) and gauges into Series.
type sampler struct {
	interval time.Duration
	probes   []probe
	start    time.Time
	stopc    chan struct{}
	done     chan struct{}
	once     sync.Once

	mu     sync.Mutex
	series []Series
}

// probe is one value sampled: a cumulative counter (rate true: its rate
// per second is recorded) or a gauge.
type probe struct {
	chart, name, ylabel string
	rate                bool
	read                func() float64
}

func startSampler(interval time.Duration, probes ...probe) *sampler {
	s := &sampler{interval: interval, probes: probes, start: time.Now(),
		stopc: make(chan struct{}), done: make(chan struct{})}
	s.series = make([]Series, len(probes))
	for i, p := range probes {
		s.series[i] = Series{Chart: p.chart, Name: p.name, XLabel: "time (s)", YLabel: p.ylabel}
	}
	go s.loop()
	return s
}

func (s *sampler) loop() {
	defer close(s.done)
	prev := make([]float64, len(s.probes))
	for i, p := range s.probes {
		prev[i] = p.read()
	}
	prevT := time.Now()
	s.record(prevT, prev, prev, 0)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		stopping := false
		select {
		case <-s.stopc:
			stopping = true
		case <-t.C:
		}
		now := time.Now()
		cur := make([]float64, len(s.probes))
		for i, p := range s.probes {
			cur[i] = p.read()
		}
		if dt := now.Sub(prevT).Seconds(); dt > 0.05 || !stopping {
			s.record(now, prev, cur, dt)
		}
		prev, prevT = cur, now
		if stopping {
			return
		}
	}
}

func (s *sampler) record(now time.Time, prev, cur []float64, dt float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := now.Sub(s.start).Seconds()
	for i, p := range s.probes {
		v := cur[i]
		if p.rate {
			if dt <= 0 {
				continue
			}
			v = (cur[i] - prev[i]) / dt
		}
		s.series[i].X = append(s.series[i].X, x)
		s.series[i].Y = append(s.series[i].Y, v)
	}
}

// stop takes a last sample and returns the series. Safe to call twice.
func (s *sampler) stop() []Series {
	s.once.Do(func() { close(s.stopc) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.series
}

// rateText prints a rate with a k/M suffix.
func rateText(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// rateMeter turns a cumulative counter into a rate between calls.
type rateMeter struct {
	prev  float64
	prevT time.Time
}

func (m *rateMeter) rate(v float64) float64 {
	now := time.Now()
	r := 0.0
	if !m.prevT.IsZero() {
		if dt := now.Sub(m.prevT).Seconds(); dt > 0 {
			r = (v - m.prev) / dt
		}
	}
	m.prev, m.prevT = v, now
	return r
}

// startFanoutSampler samples a fan-out run each second: the deliveries
// received (events) and the events published by pc, for the throughput and
// publish-rate charts.
func startFanoutSampler(events func() uint64, pc *pacer) *sampler {
	return startSampler(time.Second,
		probe{chart: "throughput over time", name: "deliveries/s", ylabel: "events/s",
			rate: true, read: func() float64 { return float64(events()) }},
		probe{chart: "publish rate over time", name: "published/s", ylabel: "events/s",
			rate: true, read: func() float64 { return float64(pc.published.Load()) }},
	)
}
