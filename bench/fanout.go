package bench

import (
	"context"
	"fmt"
	"time"
)

// FanoutConfig shapes the fanout scenario: Conns streams over Orgs orgs,
// Rate events/s published in total, each Size bytes of data.
type FanoutConfig struct {
	// Conns is the number of streams. Zero means 1000.
	Conns int
	// Orgs is the number of orgs (stream i reads org i mod Orgs). Zero
	// means 10.
	Orgs int
	// Rate is the events published per second, all orgs together. Zero
	// means 1000.
	Rate float64
	// Size is each event's data size in bytes (at least 34). Zero means 256.
	Size int
	// Duration is how long events are published. Zero means 10s.
	Duration time.Duration
	// MaxBatch caps the events of one publish request (the pacer batches
	// what is due every few ms). Zero means 1000.
	MaxBatch int
	// Drain bounds the wait, after the last publish, for every stream to
	// receive every event. Zero means 30s.
	Drain time.Duration
	// DialConcurrency bounds connects in flight. Zero means 256.
	DialConcurrency int
	// NoPoll reads every stream on its own goroutine, as before the
	// pollers (to compare the harness's own cost).
	NoPoll bool
}

func (c *FanoutConfig) validate() error {
	if c.Conns < 0 || c.Orgs < 0 || c.Rate < 0 || c.Size < 0 || c.Duration < 0 || c.MaxBatch < 0 || c.Drain < 0 || c.DialConcurrency < 0 {
		return fmt.Errorf("%w: fanout: negative setting", ErrConfig)
	}
	c.Conns = cmp0(c.Conns, 1000)
	c.Orgs = cmp0(c.Orgs, 10)
	c.Rate = cmp0(c.Rate, 1000)
	c.Size = cmp0(c.Size, 256)
	c.Duration = cmp0(c.Duration, 10*time.Second)
	c.MaxBatch = cmp0(c.MaxBatch, MaxBatch)
	c.Drain = cmp0(c.Drain, 30*time.Second)
	c.DialConcurrency = cmp0(c.DialConcurrency, defaultDialConcurrency)
	if c.MaxBatch > MaxBatch {
		return fmt.Errorf("%w: fanout: MaxBatch over %d", ErrConfig, MaxBatch)
	}
	return nil
}

// RunFanout connects the streams, publishes at the configured rate, and
// measures deliveries/s and publish-to-receive latency. On a cluster the
// streams are spread over the nodes (nodeFor) and org i is published
// through node i mod the node count, so most deliveries cross nodes; the
// streams open on each node (after connecting) and each node's RSS (at the
// end of the drain) are reported. A stream cut by the server resumes (as a
// real client would); any gap or duplicate, or an event that never
// arrives, fails the run.
func RunFanout(ctx context.Context, t *Target, cfg FanoutConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioFanout, t)
	perOrg := float64(cfg.Conns) / float64(cfg.Orgs)
	r.param("connections", cfg.Conns)
	r.param("orgs", cfg.Orgs)
	r.param("rate (events/s, all orgs)", cfg.Rate)
	r.param("event data size (bytes)", max(cfg.Size, minDataSize))
	r.param("duration", cfg.Duration)
	r.param("max batch", cfg.MaxBatch)
	nodeParams(r, t, cfg.Conns, cfg.Orgs)

	orgs := orgNames(t, "fan", cfg.Orgs)
	f, err := newFleet(t, fleetConfig{orgs: orgs, n: cfg.Conns, reconnect: true, dialConcurrency: cfg.DialConcurrency,
		poll: !cfg.NoPoll})
	if err != nil {
		return nil, err
	}
	pc := newPacer(t, orgs, cfg.Rate, cfg.Size, cfg.MaxBatch)
	prog := startProgress(t.cfg.Progress, ScenarioFanout, fleetStatus(f, func() string {
		return fmt.Sprintf("published %d", pc.published.Load())
	}))
	defer prog.stop()
	f.start(ctx, false)
	defer f.stop()
	if err := f.waitWelcomed(ctx, connectTimeout(cfg.Conns)); err != nil {
		r.failf("only %d of %d streams opened: %v", f.welcomes.Load(), cfg.Conns, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	atConnect := t.nodeSnapshots(ctx)
	hist := NewShardedHistogram(64)
	f.hist.Store(hist)
	smp := startFanoutSampler(f.events, pc)
	events0 := f.events()
	cpu := startCPU(t.pids()...)
	pubStart := time.Now()
	pc.run(ctx, cfg.Duration)
	pubSecs := time.Since(pubStart).Seconds()
	for i := range orgs {
		f.setGoal(i, pc.heads[i].Load())
	}
	derr := f.waitGoals(ctx, cfg.Drain)
	var lastDone int64
	for _, c := range f.conns {
		lastDone = max(lastDone, c.doneAt.Load())
	}
	delivered := f.events() - events0
	usage := cpu.stop()
	atEnd := t.nodeSnapshots(ctx)
	prog.stop()
	f.stop()
	r.Series = smp.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.finish()

	published := pc.published.Load()
	r.metric("events published", float64(published), "", "")
	r.metric("publish rate achieved", float64(published)/pubSecs, "events/s", "")
	r.metric("deliveries", float64(delivered), "", "")
	span := pubSecs
	if lastDone > 0 {
		span = max(span, time.Duration(lastDone-pubStart.UnixNano()).Seconds())
	}
	r.metric("deliveries/s", float64(delivered)/span, "events/s", "≥ 500k (10k conns)")
	r.metric("deliveries/s asked", cfg.Rate*perOrg, "events/s", "")
	lat := hist.Snapshot()
	r.latency("publish to receive", lat)
	r.latency("publish ack (per request)", pc.ack.Snapshot())
	r.metric("latency p50", float64(lat.Quantile(0.5))/1e6, "ms", "")
	r.metric("latency p99", float64(lat.Quantile(0.99))/1e6, "ms", "≤ 25 ms")
	r.metric("latency max", float64(lat.Quantile(1))/1e6, "ms", "")
	r.metric("reconnects (resumed)", float64(f.reconnects.Load()), "", "0")
	usage.record(r, "while publishing")
	usage.recordPerDelivery(r, delivered)
	recordNodes(r, t, atConnect, atEnd)
	seqs := f.seqTotals()
	seqChecks(r, seqs, f.resets.Load())
	r.metric(MetricLost, float64(seqs.Missing), "", "0")
	if derr != nil {
		r.failf("%d streams had not received every event %s after the last publish", f.behind(), cfg.Drain)
	}
	if n := pc.errors.Load(); n > 0 {
		r.failf("%d publish requests failed, last: %v", n, pc.err())
	}
	fleetChecks(r, f)
	return r.finish(), nil
}
