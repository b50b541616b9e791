package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// PublishConfig shapes the publish scenario: durable publish throughput and
// ack latency, for each batch size, from one publisher on one org
// ("sequential") and from one publisher per org on Orgs orgs at once
// ("parallel"). Every publisher waits for each answer before the next
// request. With Anchor, raw JetStream is measured first on the same box
// (RunAnchor) and the ratios are reported.
type PublishConfig struct {
	// Batches are the batch sizes tried. Empty means 1 and 1000 (single
	// publishes and the largest batches: the two shapes).
	Batches []int
	// Orgs is the number of orgs (and publishers) of the parallel runs.
	// Zero means 16.
	Orgs int
	// Size is each event's data size in bytes. Zero means 256.
	Size int
	// Duration is the length of each run. Zero means 5s.
	Duration time.Duration
	// Client adds a run through client.Publisher (RunClientPublish: one
	// per org, asynchronous, coalesced and pipelined) after the closed
	// loops; it counts as batched.
	Client bool
	// Anchor, when set, runs the raw JetStream anchor before orgstream;
	// its zero Size, Duration and Publishers become the run's Size,
	// Duration and Orgs. Nil means no anchor.
	Anchor *AnchorConfig
}

func (c *PublishConfig) validate() error {
	if c.Orgs < 0 || c.Size < 0 || c.Duration < 0 {
		return fmt.Errorf("%w: publish: negative setting", ErrConfig)
	}
	if len(c.Batches) == 0 {
		c.Batches = []int{1, MaxBatch}
	}
	for _, b := range c.Batches {
		if b < 1 || b > MaxBatch {
			return fmt.Errorf("%w: publish: batch %d not in 1..%d", ErrConfig, b, MaxBatch)
		}
	}
	c.Orgs = cmp0(c.Orgs, 16)
	c.Size = cmp0(c.Size, 256)
	c.Duration = cmp0(c.Duration, 5*time.Second)
	if c.Anchor != nil {
		a := *c.Anchor
		a.Size = cmp0(a.Size, max(c.Size, minDataSize))
		a.Duration = cmp0(a.Duration, c.Duration)
		a.Publishers = cmp0(a.Publishers, c.Orgs)
		if err := a.validate(); err != nil {
			return err
		}
		c.Anchor = &a
	}
	return nil
}

// RunPublish measures durable publish throughput and ack latency. A
// refused publish fails the run.
func RunPublish(ctx context.Context, t *Target, cfg PublishConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioPublish, t)
	r.param("batch sizes", fmt.Sprint(cfg.Batches))
	r.param("parallel orgs", cfg.Orgs)
	r.param("event data size (bytes)", max(cfg.Size, minDataSize))
	r.param("duration per run", cfg.Duration)

	var anchor *AnchorResult
	if cfg.Anchor != nil {
		var err error
		if anchor, err = runAnchorFor(ctx, r, t, *cfg.Anchor); err != nil {
			return nil, err
		}
	}
	var ours publishFigures

	var events, reqs, errs atomic.Int64
	label := newLabel("")
	var m rateMeter
	prog := startProgress(t.cfg.Progress, ScenarioPublish, func() string {
		ev := float64(events.Load())
		return fmt.Sprintf("%s  events %s  rate %s/s", label.get(),
			groupThousands(strconv.FormatInt(int64(ev), 10)), rateText(m.rate(ev)))
	})
	defer prog.stop()
	var best float64
	for _, mode := range []struct {
		name string
		orgs int
	}{{"sequential", 1}, {"parallel", cfg.Orgs}} {
		for _, b := range cfg.Batches {
			name := fmt.Sprintf("%s, batch %d", mode.name, b)
			if mode.orgs > 1 {
				name = fmt.Sprintf("%s ×%d orgs, batch %d", mode.name, mode.orgs, b)
			}
			label.set(name)
			ev0, req0 := events.Load(), reqs.Load()
			errs.Store(0)
			ack := &Histogram{}
			smp := startSampler(500*time.Millisecond, probe{chart: "publish throughput over time",
				name: name, ylabel: "events/s", rate: true, read: func() float64 { return float64(events.Load()) }})
			orgs := orgNames(t, fmt.Sprintf("pub-%s-b%d-", mode.name[:3], b), mode.orgs)
			cpu := startCPU(t.pids()...)
			start := time.Now()
			lastErr := closedLoop(ctx, t, orgs, b, cfg.Size, cfg.Duration, ack, &events, &reqs, &errs)
			secs := time.Since(start).Seconds()
			s := smp.stop()
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r.Series = append(r.Series, s...)
			rate := float64(events.Load()-ev0) / secs
			best = max(best, rate)
			target := ""
			if b >= 100 {
				target = targetBatched
			}
			r.metric(name+": events/s", rate, "events/s", target)
			r.metric(name+": requests/s", float64(reqs.Load()-req0)/secs, "req/s", "")
			usage := cpu.stop()
			d := ack.Snapshot()
			r.metric(name+": ack p50", float64(d.Quantile(0.5))/1e6, "ms", "")
			r.metric(name+": ack p99", float64(d.Quantile(0.99))/1e6, "ms", "")
			usage.record(r, "("+name+")")
			if usage.daemon >= 0 && events.Load() > ev0 {
				r.metric(name+": daemon CPU per event", usage.daemon*usage.secs/float64(events.Load()-ev0)*1e6, "µs", "")
			}
			ours.add(mode.name == "parallel", b, rate, usage)
			r.latency("ack, "+name, d)
			if n := errs.Load(); n > 0 {
				r.failf("%s: %d publish requests failed, last: %v", name, n, lastErr)
			}
		}
	}
	// The way a backend publishes: client.Publisher, one per org, fed
	// asynchronously, coalescing what arrives while a request is in
	// flight into batch requests.
	if cfg.Client {
		name := fmt.Sprintf("client.Publisher ×%d orgs, window 1000", cfg.Orgs)
		label.set(name)
		cpu := startCPU(t.pids()...)
		st, err := RunClientPublish(ctx, t, orgNames(t, "pub-cli-", cfg.Orgs),
			ClientPublishConfig{Window: 1000, Size: cfg.Size, Duration: cfg.Duration})
		if err != nil {
			return nil, err
		}
		st.record(r, name, targetBatched)
		usage := cpu.stop()
		usage.record(r, "("+name+")")
		ours.add(true, MaxBatch, st.Rate, usage)
		best = max(best, st.Rate)
	}
	r.metric("best durable publish rate", best, "events/s", targetBatched)
	window := 0
	if cfg.Anchor != nil {
		window = cfg.Anchor.Window
	}
	ours.report(r, anchor, cfg.Orgs, window)
	return r.finish(), nil
}

// closedLoop runs one publisher per org (org i through node i mod the node
// count), each posting batches of b events back to back for d, and
// returns the last error.
func closedLoop(ctx context.Context, t *Target, orgs []string, b, size int, d time.Duration,
	ack *Histogram, events, reqs, errs *atomic.Int64) error {
	var mu sync.Mutex
	var lastErr error
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for i, org := range orgs {
		wg.Go(func() {
			bb := batchBuilder{pad: padFor(size)}
			var body []byte
			for time.Now().Before(deadline) && ctx.Err() == nil {
				body = bb.append(body[:0], b, time.Now().UnixNano())
				t0 := time.Now()
				if _, err := t.publish(ctx, i, org, body); err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					mu.Lock()
					lastErr = err
					mu.Unlock()
					ctxwait.Sleep(ctx, 10*time.Millisecond) // do not spin on a refusing daemon
					continue
				}
				ack.RecordDuration(time.Since(t0))
				events.Add(int64(b))
				reqs.Add(1)
			}
		})
	}
	wg.Wait()
	return lastErr
}
