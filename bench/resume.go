package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ResumeConfig shapes the resume-storm scenario: Clients streams over Orgs
// orgs disconnect, Events events are published to each org, then every
// client reconnects at once with last_seq and epoch.
type ResumeConfig struct {
	// Clients is the number of streams. Zero means 1000.
	Clients int
	// Orgs is the number of orgs. Zero means 10.
	Orgs int
	// Events is the number of events published per org while the clients
	// are away. Zero means 100.
	Events int
	// Size is each event's data size in bytes. Zero means 256.
	Size int
	// Batch is the publish batch size. Zero means 1000.
	Batch int
	// DialConcurrency bounds the reconnects in flight during the storm
	// (the listen backlog drops SYNs past a few thousand). Zero means 1000.
	DialConcurrency int
	// Timeout bounds the catch-up. Zero means 120s.
	Timeout time.Duration
}

func (c *ResumeConfig) validate() error {
	if c.Clients < 0 || c.Orgs < 0 || c.Events < 0 || c.Size < 0 || c.Batch < 0 || c.DialConcurrency < 0 || c.Timeout < 0 {
		return fmt.Errorf("%w: resume-storm: negative setting", ErrConfig)
	}
	c.Clients = cmp0(c.Clients, 1000)
	c.Orgs = cmp0(c.Orgs, 10)
	c.Events = cmp0(c.Events, 100)
	c.Size = cmp0(c.Size, 256)
	c.Batch = cmp0(c.Batch, MaxBatch)
	c.DialConcurrency = cmp0(c.DialConcurrency, 1000)
	c.Timeout = cmp0(c.Timeout, 120*time.Second)
	if c.Batch > MaxBatch {
		return fmt.Errorf("%w: resume-storm: Batch over %d", ErrConfig, MaxBatch)
	}
	return nil
}

// RunResumeStorm measures the time until every client, reconnecting at
// once, has caught up with what it missed; a gap, duplicate or reset fails
// the run.
func RunResumeStorm(ctx context.Context, t *Target, cfg ResumeConfig) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(ScenarioResumeStorm, t)
	r.param("clients", cfg.Clients)
	r.param("orgs", cfg.Orgs)
	r.param("missed events per org", cfg.Events)
	r.param("event data size (bytes)", max(cfg.Size, minDataSize))
	r.param("storm dial concurrency", cfg.DialConcurrency)
	nodeParams(r, t, cfg.Clients, cfg.Orgs)
	if len(t.Nodes) > 1 {
		r.param("storm", "every client resumes on the next node (cross-node resume)")
	}

	orgs := orgNames(t, "storm", cfg.Orgs)
	f, err := newFleet(t, fleetConfig{orgs: orgs, n: cfg.Clients, dialConcurrency: cfg.DialConcurrency})
	if err != nil {
		return nil, err
	}
	phase := newLabel("connect")
	prog := startProgress(t.cfg.Progress, ScenarioResumeStorm, fleetStatus(f, phase.get))
	defer prog.stop()

	// 1. Everyone connects, live.
	m0, _ := t.Metrics(ctx)
	f.start(ctx, false)
	if err := f.waitWelcomed(ctx, connectTimeout(cfg.Clients)); err != nil {
		f.stop()
		r.failf("only %d of %d streams opened: %v", f.welcomes.Load(), cfg.Clients, err)
		fleetChecks(r, f)
		return r.finish(), ctx.Err()
	}
	// 2. Everyone leaves; wait until the daemon has seen them go.
	phase.set("disconnect")
	f.stop()
	_ = pollUntil(ctx, 30*time.Second, func() bool {
		m, err := t.Metrics(ctx)
		return err == nil && m.Connections <= m0.Connections
	})
	// 3. Events are published while they are away.
	phase.set("publish")
	heads, perr := publishEach(ctx, t, orgs, cfg.Events, cfg.Batch, cfg.Size)
	if perr != nil {
		r.failf("publish: %v", perr)
		return r.finish(), ctx.Err()
	}
	for i, h := range heads {
		f.setGoal(i, h)
	}
	mBefore, _ := t.Metrics(ctx)
	// 4. Everyone comes back at once and resumes, on another node than the
	// one it left when there are several.
	phase.set("storm")
	f.moveNodes(1)
	events0 := f.events()
	smp := startSampler(100*time.Millisecond,
		probe{chart: "replay throughput over time", name: "events received/s", ylabel: "events/s",
			rate: true, read: func() float64 { return float64(f.events()) }},
		probe{chart: "streams open over time", name: "streams", ylabel: "streams",
			read: func() float64 { return float64(f.connected.Load()) }},
	)
	cpu := startCPU(t.pids()...)
	stormStart := time.Now()
	f.start(ctx, true)
	cerr := f.waitGoals(ctx, cfg.Timeout)
	catchUp := time.Since(stormStart)
	r.Series = smp.stop()
	usage := cpu.stop()
	perClient := &Histogram{}
	var lastDone int64
	for _, c := range f.conns {
		if d := c.doneAt.Load(); d > 0 {
			lastDone = max(lastDone, d)
			perClient.Record(d - stormStart.UnixNano())
		}
	}
	if lastDone > 0 {
		catchUp = time.Duration(lastDone - stormStart.UnixNano())
	}
	replayed := f.events() - events0
	phase.set("done")
	prog.stop()
	f.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mAfter, merr := t.Metrics(ctx)
	f.finish()

	r.metric("time until every client caught up", catchUp.Seconds(), "s", "≤ 10 s")
	r.metric("events replayed (received)", float64(replayed), "", "")
	r.metric("replay throughput", float64(replayed)/catchUp.Seconds(), "events/s", "")
	if merr == nil && mBefore.ReplayedTotal <= mAfter.ReplayedTotal {
		r.metric("daemon replayed_total delta", float64(mAfter.ReplayedTotal-mBefore.ReplayedTotal), "", "")
	}
	r.latency("client catch-up (storm start to last event)", perClient.Snapshot())
	r.latency("reconnect (dial to welcome)", f.connect.Snapshot())
	usage.record(r, "during the storm")
	usage.recordPerConnect(r, cfg.Clients)
	seqChecks(r, f.seqTotals(), f.resets.Load())
	if cerr != nil {
		r.failf("%d clients had not caught up after %s", f.behind(), cfg.Timeout)
	}
	fleetChecks(r, f)
	return r.finish(), nil
}

// publishEach publishes n events to every org (orgs in parallel, org i
// through node i mod the node count, batches of batch) and returns each
// org's last seq.
func publishEach(ctx context.Context, t *Target, orgs []string, n, batch, size int) ([]uint64, error) {
	heads := make([]uint64, len(orgs))
	errs := make([]error, len(orgs))
	batch = min(batch, EventsPerBody(size))
	var wg sync.WaitGroup
	for i, org := range orgs {
		wg.Go(func() {
			bb := batchBuilder{pad: padFor(size)}
			var body []byte
			for left := n; left > 0; {
				k := min(left, batch)
				body = bb.append(body[:0], k, time.Now().UnixNano())
				h, err := t.publish(ctx, i, org, body)
				if err != nil {
					errs[i] = err
					return
				}
				heads[i] = h
				left -= k
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return heads, err
		}
	}
	return heads, nil
}
