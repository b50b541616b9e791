package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// IdleConfig shapes the idle scenario: Conns streams held open, reading
// nothing but pings.
type IdleConfig struct {
	// Conns is the number of streams. Zero means 1000.
	Conns int
	// Orgs is the number of orgs they are spread over. Zero means 10.
	Orgs int
	// Hold is how long the streams stay open once all are connected and
	// measured. Zero means 5s.
	Hold time.Duration
	// Settle is the wait between the last connect and the measurement.
	// Zero means 2s.
	Settle time.Duration
	// DialConcurrency bounds connects in flight. Zero means 256.
	DialConcurrency int
}

func (c *IdleConfig) validate() error {
	if c.Conns < 0 || c.Orgs < 0 || c.Hold < 0 || c.Settle < 0 || c.DialConcurrency < 0 {
		return fmt.Errorf("%w: idle: negative setting", ErrConfig)
	}
	c.Conns = cmp0(c.Conns, 1000)
	c.Orgs = cmp0(c.Orgs, 10)
	c.Hold = cmp0(c.Hold, 5*time.Second)
	c.Settle = cmp0(c.Settle, 2*time.Second)
	c.DialConcurrency = cmp0(c.DialConcurrency, defaultDialConcurrency)
	return nil
}

// cmp0 is v, or def when v is zero.
func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// RunIdle opens cfg.Conns streams and measures what they cost the daemon:
// RSS, heap in use and goroutines per connection (before vs after), the
// heap in use against the RSS, and the connect rate. With Orgs equal to
// Conns every stream is alone in its org: the cost of many small orgs.
// It fails when a client cannot connect or a stream drops while held.
func RunIdle(ctx context.Context, t *Target, cfg IdleConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioIdle, t)
	r.param("connections", cfg.Conns)
	r.param("orgs", cfg.Orgs)
	r.param("hold", cfg.Hold)
	r.param("dial concurrency", cfg.DialConcurrency)
	nodeParams(r, t, cfg.Conns, cfg.Orgs)

	f, err := newFleet(t, fleetConfig{orgs: orgNames(t, "idle", cfg.Orgs), n: cfg.Conns,
		dialConcurrency: cfg.DialConcurrency, readBuf: 512})
	if err != nil {
		return nil, err
	}
	before := t.snapshot(ctx)
	if before.rtErr != nil {
		r.notef("runtime metrics unavailable: %v", before.rtErr)
	}

	probes := []probe{{chart: "connections over time", name: "open streams", ylabel: "connections",
		read: func() float64 { return float64(f.connected.Load()) }}}
	if before.rssOK {
		probes = append(probes, probe{chart: "daemon RSS over time", name: "RSS", ylabel: "MiB",
			read: func() float64 { v, _ := t.RSS(); return float64(v) / mib }})
	}
	smp := startSampler(250*time.Millisecond, probes...)
	prog := startProgress(t.cfg.Progress, ScenarioIdle, fleetStatus(f, nil))
	cpu := startCPU(t.pids()...)
	f.start(ctx, false)
	defer f.stop()

	werr := f.waitWelcomed(ctx, connectTimeout(cfg.Conns))
	usage := cpu.stop()
	connectSecs := time.Duration(f.lastWelcome.Load() - f.startedAt.Load()).Seconds()
	welcomed := f.welcomes.Load()
	if werr == nil {
		ctxwait.Sleep(ctx, cfg.Settle)
	}
	after := t.snapshot(ctx)
	m, merr := t.Metrics(ctx)
	var perNode []nodeSnapshot
	if len(t.Nodes) > 1 {
		perNode = t.nodeSnapshots(ctx)
	}
	if werr == nil {
		ctxwait.Sleep(ctx, cfg.Hold)
	}
	open := f.connected.Load()
	prog.stop()
	f.stop()
	r.Series = smp.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	n := float64(welcomed)
	r.metric("connections opened", n, "", "")
	if connectSecs > 0 {
		r.metric("connect rate", n/connectSecs, "conn/s", "")
	}
	r.latency("connect (dial to welcome)", f.connect.Snapshot())
	if merr == nil {
		r.metric("daemon connections (after connect)", float64(m.Connections), "", "")
	}
	if before.rssOK && after.rssOK && n > 0 {
		r.metric("daemon RSS before", float64(before.rss)/mib, "MiB", "")
		r.metric("daemon RSS after", float64(after.rss)/mib, "MiB", "")
		r.metric("RSS per connection", float64(after.rss-before.rss)/n/1024, "KiB", "≤ 6 KiB")
	} else {
		r.notef("daemon RSS not measured (PID unknown: pass --pid)")
	}
	if before.rtErr == nil && after.rtErr == nil && n > 0 {
		r.metric("daemon goroutines before", before.rt.Goroutines, "", "")
		r.metric("daemon goroutines after", after.rt.Goroutines, "", "")
		r.metric("goroutines per connection", (after.rt.Goroutines-before.rt.Goroutines)/n, "", "≈ 0")
		if before.rt.HeapInuse > 0 {
			r.metric("daemon heap in use after", after.rt.HeapInuse/mib, "MiB", "")
			r.metric("heap in use per connection", (after.rt.HeapInuse-before.rt.HeapInuse)/n/1024, "KiB", "")
			if after.rssOK && after.rss > 0 {
				r.metric("heap in use ÷ RSS (after)", after.rt.HeapInuse/float64(after.rss), "", "≤ 2")
			}
		} else {
			r.notef("heap in use not measured: the daemon's /metrics has no go_memstats_heap_inuse_bytes")
		}
	}
	usage.record(r, "while connecting")
	if perNode != nil {
		recordNodes(r, t, perNode, perNode)
	}
	r.metric("streams open at the end of the hold", float64(open), "", "")
	if werr != nil {
		r.failf("only %d of %d streams opened: %v", welcomed, cfg.Conns, werr)
	}
	if d := f.dropped.Load(); d > 0 {
		r.failf("%d streams dropped while idle", d)
	}
	fleetChecks(r, f)
	return r.finish(), nil
}
