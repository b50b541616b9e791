package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// LargeConfig shapes the large-events scenario: Readers streams on one org
// while Total bytes of events of Size bytes of data are published to it by
// Publishers posting one event per request.
type LargeConfig struct {
	// Readers is the number of streams reading the org. Zero means 10.
	Readers int
	// Total is the event data published, in bytes. Zero means 1 GiB.
	Total int64
	// Size is each event's data size. Zero means the largest an accepted
	// one-event body holds (MaxBody less the envelope).
	Size int
	// Publishers is the number of concurrent publishers. Zero means 2.
	Publishers int
	// WindowBytes is the daemon's --window-bytes, for the bound on its RSS
	// growth: 2 × WindowBytes + 64 MiB. Zero means 64 MiB, the default.
	WindowBytes int64
}

// largestData is the data size of a one-event batch body of MaxBody bytes.
const largestData = MaxBody - len(`{"events":[{"topic":"`+Topic+`","data":}]}`)

func (c *LargeConfig) validate() error {
	if c.Readers < 0 || c.Total < 0 || c.Size < 0 || c.Publishers < 0 || c.WindowBytes < 0 {
		return fmt.Errorf("%w: large-events: negative setting", ErrConfig)
	}
	if c.Size > largestData {
		return fmt.Errorf("%w: large-events: size %d is over %d, the largest data of a body", ErrConfig, c.Size, largestData)
	}
	c.Readers = cmp0(c.Readers, 10)
	c.Total = cmp0(c.Total, 1<<30)
	c.Size = cmp0(c.Size, largestData)
	c.Publishers = cmp0(c.Publishers, 2)
	c.WindowBytes = cmp0(c.WindowBytes, 64<<20)
	return nil
}

// RunLargeEvents checks that an org's memory is bounded in bytes (issue 10):
// it publishes Total bytes of the largest events to one org with readers
// connected, and reports the daemon's RSS growth against
// 2 × --window-bytes + 64 MiB. The readers must get every event (none is
// cut: an event of the largest size never makes a slow consumer).
func RunLargeEvents(ctx context.Context, t *Target, cfg LargeConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioLargeEvents, t)
	events := max(cfg.Total/int64(cfg.Size), 1)
	r.param("readers", cfg.Readers)
	r.param("event data size (bytes)", cfg.Size)
	r.param("events", events)
	r.param("data published (MiB)", float64(events*int64(cfg.Size))/mib)
	r.param("publishers", cfg.Publishers)
	r.param("--window-bytes (MiB)", float64(cfg.WindowBytes)/mib)

	orgs := []string{t.Org("large")}
	readers, err := newFleet(t, fleetConfig{orgs: orgs, n: cfg.Readers, reconnect: true})
	if err != nil {
		return nil, err
	}
	var published, sent atomic.Int64
	prog := startProgress(t.cfg.Progress, ScenarioLargeEvents, fleetStatus(readers, func() string {
		return fmt.Sprintf("published %d/%d", published.Load(), events)
	}))
	defer prog.stop()
	readers.start(ctx, false)
	defer readers.stop()
	if err := readers.waitWelcomed(ctx, connectTimeout(cfg.Readers)); err != nil {
		r.failf("readers: %v", err)
	}
	rss0, rssOK := t.RSS()
	probes := []probe{{chart: "throughput over time", name: "deliveries/s (readers)", ylabel: "events/s", rate: true,
		read: func() float64 { return float64(readers.events()) }}}
	if rssOK {
		probes = append(probes, probe{chart: "daemon RSS over time", name: "RSS", ylabel: "MiB",
			read: func() float64 { v, _ := t.RSS(); return float64(v) / mib }})
	}
	smp := startSampler(250*time.Millisecond, probes...)
	var peak atomic.Int64
	peak.Store(rss0)
	watchDone := make(chan struct{})
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() {
		defer close(watchDone)
		for watchCtx.Err() == nil {
			if v, ok := t.RSS(); ok && v > peak.Load() {
				peak.Store(v)
			}
			ctxwait.Sleep(watchCtx, 50*time.Millisecond)
		}
	}()

	cpu := startCPU(t.pids()...)
	start := time.Now()
	var last atomic.Uint64
	var pubErr atomic.Value
	var errs atomic.Int64
	var wg sync.WaitGroup
	bb := batchBuilder{pad: padFor(cfg.Size)}
	for range cfg.Publishers {
		wg.Go(func() {
			var body []byte
			for sent.Add(1) <= events && ctx.Err() == nil {
				body = bb.append(body[:0], 1, time.Now().UnixNano())
				seq, err := t.publish(ctx, 0, orgs[0], body)
				if err != nil {
					errs.Add(1)
					pubErr.Store(err)
					continue
				}
				published.Add(1)
				for {
					old := last.Load()
					if seq <= old || last.CompareAndSwap(old, seq) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	usage := cpu.stop()
	readers.setGoal(0, last.Load())
	derr := readers.waitGoals(ctx, 60*time.Second)
	stopWatch()
	<-watchDone
	rssAfter, _ := t.RSS()
	prog.stop()
	readers.stop()
	r.Series = smp.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	readers.finish()

	r.metric("events published", float64(published.Load()), "", fmt.Sprint(events))
	r.metric("publish rate", float64(published.Load())*float64(cfg.Size)/mib/elapsed.Seconds(), "MiB/s", "")
	bound := float64(2*cfg.WindowBytes+64<<20) / mib
	if rssOK {
		growth := float64(peak.Load()-rss0) / mib
		r.metric("daemon RSS with readers connected", float64(rss0)/mib, "MiB", "")
		r.metric("daemon RSS peak", float64(peak.Load())/mib, "MiB", "")
		r.metric("daemon RSS growth (peak − start)", growth, "MiB", fmt.Sprintf("< %.0f", bound))
		r.metric("daemon RSS after", float64(rssAfter)/mib, "MiB", "")
		if growth >= bound {
			r.failf("the daemon's RSS grew by %.0f MiB, over 2 × --window-bytes + 64 MiB = %.0f MiB", growth, bound)
		}
	} else {
		r.notef("daemon RSS not measured (PID unknown: pass --pid)")
	}
	usage.record(r, "while publishing")
	seqChecks(r, readers.seqTotals(), readers.resets.Load())
	if n := readers.reconnects.Load(); n > 0 {
		r.failf("%d reader streams were cut (an event of the largest size must not make a slow consumer)", n)
	}
	if derr != nil {
		r.failf("%d readers had not received every event 60s after the last publish", readers.behind())
	}
	if n := errs.Load(); n > 0 {
		r.failf("%d publish requests failed, last: %v", n, pubErr.Load())
	}
	fleetChecks(r, readers)
	return r.finish(), nil
}
