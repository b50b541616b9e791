package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// SlowConfig shapes the slow-consumer scenario: Readers streams and one
// slow stream on one org; events are published at Rate; after Baseline the
// slow stream stops reading until the daemon cuts it.
type SlowConfig struct {
	// Readers is the number of streams that keep reading. Zero means 10.
	Readers int
	// Rate is the events published per second. Zero means 2000.
	Rate float64
	// Size is each event's data size in bytes. Zero means 1024.
	Size int
	// Baseline is the time everyone reads before the slow stream stops.
	// Zero means 3s.
	Baseline time.Duration
	// MaxFlood bounds the wait for the cut once the slow stream stopped
	// reading. Zero means 30s.
	MaxFlood time.Duration
	// RecvBuffer is the slow socket's SO_RCVBUF, so that it backs up after
	// a few KiB. Zero means 4096.
	RecvBuffer int
}

func (c *SlowConfig) validate() error {
	if c.Readers < 0 || c.Rate < 0 || c.Size < 0 || c.Baseline < 0 || c.MaxFlood < 0 || c.RecvBuffer < 0 {
		return fmt.Errorf("%w: slow-consumer: negative setting", ErrConfig)
	}
	c.Readers = cmp0(c.Readers, 10)
	c.Rate = cmp0(c.Rate, 2000)
	c.Size = cmp0(c.Size, 1024)
	c.Baseline = cmp0(c.Baseline, 3*time.Second)
	c.MaxFlood = cmp0(c.MaxFlood, 30*time.Second)
	c.RecvBuffer = cmp0(c.RecvBuffer, 4096)
	return nil
}

// afterCut is how long the flood goes on once the cut is seen, so that the
// other readers' latency after it is measured too.
const afterCut = time.Second

// RunSlowConsumer checks that a reader that stops reading is cut with 4008
// while the others of its org see every event, and reports the daemon's RSS
// growth meanwhile and the others' latency before and during the flood.
func RunSlowConsumer(ctx context.Context, t *Target, cfg SlowConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioSlowConsumer, t)
	r.param("readers", cfg.Readers)
	r.param("rate (events/s)", cfg.Rate)
	r.param("event data size (bytes)", max(cfg.Size, minDataSize))
	r.param("baseline", cfg.Baseline)
	r.param("slow socket SO_RCVBUF", cfg.RecvBuffer)

	orgs := []string{t.Org("slow")}
	readers, err := newFleet(t, fleetConfig{orgs: orgs, n: cfg.Readers, reconnect: true})
	if err != nil {
		return nil, err
	}
	slow, err := newFleet(t, fleetConfig{orgs: orgs, n: 1, sub: "slow", rcvBuf: cfg.RecvBuffer, readBuf: 1024})
	if err != nil {
		return nil, err
	}
	pc := newPacer(t, orgs, cfg.Rate, cfg.Size, MaxBatch)
	phase := newLabel("baseline")
	prog := startProgress(t.cfg.Progress, ScenarioSlowConsumer, fleetStatus(readers, phase.get))
	defer prog.stop()

	readers.start(ctx, false)
	defer readers.stop()
	slow.start(ctx, false)
	defer slow.stop()
	if err := readers.waitWelcomed(ctx, connectTimeout(cfg.Readers)); err != nil {
		r.failf("readers: %v", err)
	}
	if err := slow.waitWelcomed(ctx, connectTimeout(1)); err != nil || slow.welcomes.Load() == 0 {
		r.failf("the slow stream did not open: %v", err)
		fleetChecks(r, slow)
		return r.finish(), ctx.Err()
	}
	m0, err := t.Metrics(ctx)
	if err != nil {
		return nil, err
	}

	base, flood := NewShardedHistogram(8), NewShardedHistogram(8)
	readers.hist.Store(base)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pc.run(ctx, cfg.Baseline+cfg.MaxFlood+afterCut+time.Minute)
	}()
	defer func() { pc.halt(); <-pubDone }()
	probes := []probe{{chart: "throughput over time", name: "deliveries/s (readers)", ylabel: "events/s", rate: true,
		read: func() float64 { return float64(readers.events()) }}}
	rss0, rssOK := t.RSS()
	if rssOK {
		probes = append(probes, probe{chart: "daemon RSS over time", name: "RSS", ylabel: "MiB",
			read: func() float64 { v, _ := t.RSS(); return float64(v) / mib }})
	}
	smp := startSampler(250*time.Millisecond, probes...)

	cpu := startCPU(t.pids()...)
	ctxwait.Sleep(ctx, cfg.Baseline)
	rssBefore, _ := t.RSS()
	readers.hist.Store(flood)
	sc := slow.conns[0]
	sc.pause()
	phase.set("flood (slow reader stopped)")
	floodStart := time.Now()
	peak := rssBefore
	var cutAfter time.Duration
	var cuts uint64
	deadline := floodStart.Add(cfg.MaxFlood)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if v, ok := t.RSS(); ok {
			peak = max(peak, v)
		}
		if m, err := t.Metrics(ctx); err == nil && m.SlowConsumerDisconnectsTotal > m0.SlowConsumerDisconnectsTotal {
			cuts = m.SlowConsumerDisconnectsTotal - m0.SlowConsumerDisconnectsTotal
			cutAfter = time.Since(floodStart)
			break
		}
		ctxwait.Sleep(ctx, 100*time.Millisecond)
	}
	// The slow reader reads again at once: the daemon's close frame waits
	// behind the backlog in its socket, and only for its write timeout.
	sc.resume()
	phase.set("after the cut")
	if cutAfter > 0 {
		end := time.Now().Add(afterCut)
		for time.Now().Before(end) && ctx.Err() == nil {
			if v, ok := t.RSS(); ok {
				peak = max(peak, v)
			}
			ctxwait.Sleep(ctx, 100*time.Millisecond)
		}
	}
	pc.halt()
	<-pubDone
	usage := cpu.stop()
	phase.set("drain")
	_ = pollUntil(ctx, 20*time.Second, func() bool { return slow.connected.Load() == 0 })
	for i := range orgs {
		readers.setGoal(i, pc.heads[i].Load())
	}
	derr := readers.waitGoals(ctx, 30*time.Second)
	rssAfter, _ := t.RSS()
	prog.stop()
	readers.stop()
	slow.stop()
	r.Series = smp.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	readers.finish()

	r.metric("events published", float64(pc.published.Load()), "", "")
	if rssOK {
		r.metric("daemon RSS at start", float64(rss0)/mib, "MiB", "")
		r.metric("daemon RSS when the slow reader stopped", float64(rssBefore)/mib, "MiB", "")
		r.metric("daemon RSS peak during the flood", float64(peak)/mib, "MiB", "")
		r.metric("daemon RSS growth during the flood", float64(peak-rssBefore)/mib, "MiB", "")
		r.metric("daemon RSS after", float64(rssAfter)/mib, "MiB", "")
	} else {
		r.notef("daemon RSS not measured (PID unknown: pass --pid)")
	}
	code := int(sc.lastCode.Load())
	r.metric("slow consumer cuts (daemon metric)", float64(cuts), "", "1")
	r.metric("time from stop reading to cut", cutAfter.Seconds(), "s", "")
	r.metric("slow reader close code", float64(code), "", "4008")
	r.metric("events the slow reader got", float64(sc.track.Events), "", "")
	switch {
	case cutAfter == 0:
		r.failf("the slow reader was not cut within %s of flooding", cfg.MaxFlood)
	case code != 4008:
		r.failf("the slow reader's stream ended with close code %d, want 4008 (0: no close frame)", code)
	}
	if !sc.track.Clean() {
		r.failf("the slow reader's events before the cut had %d gaps and %d duplicates", sc.track.Gaps, sc.track.Dups)
	}
	b, fl := base.Snapshot(), flood.Snapshot()
	r.latency("readers, baseline", b)
	r.latency("readers, during the flood", fl)
	r.metric("readers latency p50 baseline", float64(b.Quantile(0.5))/1e6, "ms", "")
	r.metric("readers latency p50 during the flood", float64(fl.Quantile(0.5))/1e6, "ms", "≈ baseline")
	r.metric("readers latency p99 baseline", float64(b.Quantile(0.99))/1e6, "ms", "")
	r.metric("readers latency p99 during the flood", float64(fl.Quantile(0.99))/1e6, "ms", "≈ baseline")
	usage.record(r, "while publishing")
	seqChecks(r, readers.seqTotals(), readers.resets.Load())
	if n := readers.reconnects.Load(); n > 0 {
		r.failf("%d of the other readers' streams were cut too", n)
	}
	if derr != nil {
		r.failf("%d readers had not received every event 30s after the last publish", readers.behind())
	}
	if n := pc.errors.Load(); n > 0 {
		r.failf("%d publish requests failed, last: %v", n, pc.err())
	}
	fleetChecks(r, readers)
	return r.finish(), nil
}
