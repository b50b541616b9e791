package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ScenarioFanoutCentrifugo names a fanout run against Centrifugo.
const ScenarioFanoutCentrifugo = "fanout-centrifugo"

// RunCentrifugoFanout is the fanout scenario against a Centrifugo started
// by the harness, measured the way RunFanout measures orgstream: cfg.Conns
// clients over cfg.Orgs channels (one per org, client i on channel i mod
// Orgs, spread over sourceAddrs loopback source addresses as
// TargetConfig.SourceAddrs spreads them), the same
// events (data {"t":sent,"pad":…} of cfg.Size bytes) at the same rate,
// batched the same way (one POST /api/batch per org and tick), and
// publish-to-receive latency from the send time in the data. Centrifugo
// has no seq and no resume here (no history): each client counts what it
// receives, and "lost deliveries" are the publications some client did not
// receive (one whose connection ended is not reconnected). The daemon CPU
// and RSS are Centrifugo's.
func RunCentrifugoFanout(ctx context.Context, cc CentrifugoConfig, sourceAddrs int, cfg FanoutConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sourceAddrs = cmp0(sourceAddrs, DefaultSourceAddrs)
	c, err := StartCentrifugo(ctx, cc)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Stop() }()
	return runCentrifugoFanout(ctx, c, sourceAddrs, cfg)
}

func runCentrifugoFanout(ctx context.Context, c *Centrifugo, sourceAddrs int, cfg FanoutConfig) (*Result, error) {
	r := newResult(ScenarioFanoutCentrifugo, nil)
	r.Target = TargetInfo{URL: c.URL, Started: true, PID: c.PID, SourceAddrs: max(sourceAddrs, 1), NodeCount: 1}
	perOrg := float64(cfg.Conns) / float64(cfg.Orgs)
	r.param("connections", cfg.Conns)
	r.param("channels (orgs)", cfg.Orgs)
	r.param("rate (events/s, all channels)", cfg.Rate)
	r.param("event data size (bytes)", max(cfg.Size, minDataSize))
	r.param("duration", cfg.Duration)
	r.param("max batch", cfg.MaxBatch)

	channels := make([]string, cfg.Orgs)
	for i := range channels {
		channels[i] = fmt.Sprintf("org%d", i)
	}
	f := newCentFleet(c, channels, cfg.Conns, sourceAddrs, DefaultDialTimeout)
	pc := newPacerTo(centrifugoSink{c: c, channels: channels}, channels, cfg.Rate, cfg.Size, cfg.MaxBatch)
	rss0, rssErr := ReadRSS(c.PID)
	f.start(ctx, cfg.DialConcurrency, !cfg.NoPoll)
	defer f.stop()
	n := int64(cfg.Conns)
	if err := pollUntil(ctx, connectTimeout(cfg.Conns), func() bool { return f.welcomes.Load()+f.failed.Load() >= n }); err != nil {
		r.failf("only %d of %d clients connected: %v", f.welcomes.Load(), cfg.Conns, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rss1, _ := ReadRSS(c.PID)
	hist := NewShardedHistogram(64)
	f.hist.Store(hist)
	smp := startFanoutSampler(f.events, pc)
	events0 := f.events()
	cpu := startCPU(c.PID)
	pubStart := time.Now()
	pc.run(ctx, cfg.Duration)
	pubSecs := time.Since(pubStart).Seconds()
	want := make([]int64, len(channels))
	for i := range want {
		want[i] = pc.counts[i].Load()
	}
	derr := pollUntil(ctx, cfg.Drain, func() bool { return f.behind(want) == 0 })
	span := time.Since(pubStart).Seconds()
	delivered := f.events() - events0
	usage := cpu.stop()
	rss2, _ := ReadRSS(c.PID)
	f.stop()
	r.Series = smp.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	published := pc.published.Load()
	r.metric("events published", float64(published), "", "")
	r.metric("publish rate achieved", float64(published)/pubSecs, "events/s", "")
	r.metric(MetricDeliveries, float64(delivered), "", "")
	if derr == nil {
		span = max(pubSecs, span-0.02) // the drain poll's last tick
	}
	r.metric(MetricDeliveriesPerSec, float64(delivered)/span, "events/s", "")
	r.metric("deliveries/s asked", cfg.Rate*perOrg, "events/s", "")
	lat := hist.Snapshot()
	r.latency("publish to receive", lat)
	r.latency("publish ack (per request)", pc.ack.Snapshot())
	r.metric(MetricP50, float64(lat.Quantile(0.5))/1e6, "ms", "")
	r.metric(MetricP99, float64(lat.Quantile(0.99))/1e6, "ms", "≤ 25 ms")
	r.metric("latency max", float64(lat.Quantile(1))/1e6, "ms", "")
	lost := f.lost(want)
	r.metric(MetricLost, float64(lost), "", "0")
	usage.record(r, "while publishing")
	usage.recordPerDelivery(r, delivered)
	if rssErr == nil && rss1 > 0 && rss2 > 0 {
		r.metric("daemon RSS after connect", float64(rss1)/mib, "MiB", "")
		r.metric("daemon RSS per connection", float64(rss1-rss0)/float64(max(f.welcomes.Load(), 1))/1024, "KiB", "")
		r.metric("daemon RSS at the end", float64(rss2)/mib, "MiB", "")
	}
	r.metric("connections dropped", float64(f.dropped.Load()), "", "0")
	if lost > 0 {
		r.failf("%d publications were not received (%d connections dropped)", lost, f.dropped.Load())
	}
	if derr != nil && lost == 0 {
		r.failf("clients had not received every publication %s after the last publish", cfg.Drain)
	}
	if n := pc.errors.Load(); n > 0 {
		r.failf("%d publish requests failed, last: %v", n, pc.err())
	}
	if n := f.failed.Load(); n > 0 {
		r.failf("%d of %d clients could not connect", n, cfg.Conns)
	}
	if errs := f.errorSummary(); len(errs) > 0 {
		r.notef("client errors: %s", strings.Join(errs, "; "))
	}
	r.notef("Centrifugo at its defaults but for the listen address, a token secret, an API key and error-level logs; " +
		"clients subscribed server-side (the token's channels claim), JSON protocol")
	return r.finish(), nil
}
