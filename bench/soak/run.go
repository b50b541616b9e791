package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/orgstream/orgstream/bench"
	"github.com/orgstream/orgstream/internal/ctxwait"
	"github.com/orgstream/orgstream/transport/auth"
)

// probeOrg is the org of the nemesis's probe writes (no subscriber).
const probeOrg = "soak-probe"

// Run runs one campaign: it starts a 3-node cluster, runs publishers,
// subscribers, the nemesis and the RSS sampler for cfg.Duration, resolves
// every publish in flight, waits for the subscribers to catch up, stops
// the cluster, checks the history and writes the report under cfg.Out.
// The error is for a campaign that could not run (the cluster did not
// start); a run that breaks the contract returns a Report that is not OK.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "soak: seed %d (replay the same faults with --seed %d), %s\n", cfg.Seed, cfg.Seed, cfg.Duration)
	dataDir := cfg.DataDir
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "orgstream-soak-data-")
		if err != nil {
			return nil, fmt.Errorf("soak: data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		dataDir = dir
	}
	use := slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == KindDiskFull })
	skipped := []string{}
	disk, err := mountSmallDisk(filepath.Join(dataDir, "b"+strconv.Itoa(diskNode+1)))
	if err != nil {
		skipped = append(skipped, KindDiskFull+": skipped: "+err.Error())
	} else {
		use = append(use, KindDiskFull)
		defer disk.unmount()
	}
	if len(cfg.Faults) > 0 {
		use = slices.DeleteFunc(use, func(k string) bool { return !slices.Contains(cfg.Faults, k) })
		if len(use) == 0 {
			return nil, fmt.Errorf("soak: none of the faults %v can be injected here", cfg.Faults)
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(cfg.Log, "soak: fault %s\n", s)
	}
	// The route proxies of a partitionable cluster only when partitions are
	// drawn: other campaigns keep direct routes, as before.
	c, err := bench.StartCluster(ctx, nodeCount, bench.DaemonConfig{Path: cfg.Daemon, DataDir: dataDir,
		Args: append([]string{"--ping-interval", cfg.PingInterval.String()}, cfg.DaemonArgs...), Partitionable: slices.Contains(use, KindPartition)})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	r := &Report{Seed: cfg.Seed, Started: time.Now(), Duration: cfg.Duration.String(), Skipped: skipped,
		Failures: []string{}}
	r.Dir = bench.RunDir(cfg.Out, "soak", r.Started)
	campaign(ctx, cfg, c, r, use, disk)
	if err := c.Stop(); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("cluster stop: %v", err))
	}
	r.Seconds = time.Since(r.Started).Seconds()
	if err := r.Write(); err != nil {
		return r, err
	}
	return r, nil
}

// campaign runs the load and the faults on c and fills r.
func campaign(ctx context.Context, cfg Config, c *bench.Cluster, r *Report, use []string, disk *smallDisk) {
	seed := rand.NewPCG(cfg.Seed, 0x50a6)
	root := rand.New(seed)
	ns := newNodes(c)
	h := &History{}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	pubToken, err := auth.Issue(c.Secret, auth.Claims{Sub: "soak-publisher", Org: auth.AnyOrg,
		Scope: auth.ScopePublish, Exp: time.Now().Add(48 * time.Hour)})
	if err != nil {
		r.fail("publish token: %v", err)
		return
	}
	orgs := make([]string, cfg.Orgs)
	for i := range orgs {
		orgs[i] = "soak-o" + strconv.Itoa(i+1)
	}
	start := time.Now()

	// Subscribers first: they replay from seq 1 anyway.
	subCtx, stopSubs := context.WithCancel(ctx)
	var subWG sync.WaitGroup
	var subs []*subscriber
	for _, org := range orgs {
		for k := range cfg.SubscribersPerOrg {
			tok, err := auth.Issue(c.Secret, auth.Claims{Sub: "soak-sub-" + strconv.Itoa(k+1), Org: org,
				Scope: auth.ScopeSubscribe, Exp: time.Now().Add(48 * time.Hour)})
			if err != nil {
				r.fail("subscribe token: %v", err)
				stopSubs()
				return
			}
			s := &subscriber{nodes: ns, token: tok, rng: rand.New(rand.NewPCG(root.Uint64(), root.Uint64())),
				idle: 4 * cfg.PingInterval,
				log:  SubscriberLog{Name: org + "/s" + strconv.Itoa(k+1), Org: org, Stayed: true}}
			subs = append(subs, s)
			subWG.Go(func() { s.run(subCtx) })
		}
	}

	// Publishers: one per node, on every org.
	pubCtx, cancelPubs := context.WithTimeout(ctx, cfg.Duration+resolveLimit)
	defer cancelPubs()
	stopPubs := make(chan struct{})
	var pubWG sync.WaitGroup
	var pubs []*publisher
	for i := range ns.count() {
		p := &publisher{name: "p" + strconv.Itoa(i+1), home: i, orgs: orgs, token: pubToken, nodes: ns, h: h,
			rng: rand.New(rand.NewPCG(root.Uint64(), root.Uint64())), client: client, interval: cfg.PublishInterval}
		pubs = append(pubs, p)
		pubWG.Go(func() { p.run(pubCtx, stopPubs) })
	}

	// RSS sampler.
	sampCtx, stopSampler := context.WithCancel(ctx)
	samples := make([][]Sample, ns.count())
	var sampWG sync.WaitGroup
	every := max(time.Second, cfg.Duration/1200)
	sampWG.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-sampCtx.Done():
				return
			case <-tick.C:
			}
			for i := range samples {
				if rss, err := bench.ReadRSS(ns.pid(i)); err == nil {
					samples[i] = append(samples[i], Sample{T: time.Since(start).Seconds(), MiB: float64(rss) / (1 << 20)})
				}
			}
		}
	})

	// The nemesis, in this goroutine.
	prober := &publisher{name: "probe", orgs: []string{probeOrg}, token: pubToken, nodes: ns, h: h,
		rng: rand.New(rand.NewPCG(root.Uint64(), root.Uint64())), client: client}
	nem := &nemesis{rng: rand.New(rand.NewPCG(root.Uint64(), root.Uint64())), c: c, nodes: ns, start: start,
		stopBy: start.Add(cfg.Duration - 5*time.Second), warmUp: max(5*time.Second, cfg.Duration/10),
		log: cfg.Log, probe: func(ctx context.Context) bool { return prober.probe(ctx) }, kinds: use, disk: disk}
	if err := nem.run(ctx); err != nil {
		r.fail("nemesis: %v", err)
	}
	ctxwait.Sleep(ctx, time.Until(start.Add(cfg.Duration)))
	r.Faults = nem.faults
	close(stopPubs)
	pubWG.Wait()
	pubEnd := time.Now()
	for _, p := range pubs {
		if n := p.permanent.Load(); n > 0 {
			last, _ := p.lastErr.Load().(string)
			r.fail("publisher %s: %d answers that a retry cannot change (4xx, or a malformed 2xx), the last: %s", p.name, n, last)
		}
	}
	if pubCtx.Err() != nil && ctx.Err() == nil {
		r.fail("publishers: batches still not acknowledged %s after the end of publishing", resolveLimit)
	}
	fmt.Fprintf(cfg.Log, "soak: %6.1fs publishing ended, every batch resolved\n", time.Since(start).Seconds())

	// Catch-up: every subscriber reaches the last acknowledged seq of its org.
	top := h.maxAcked()
	caught := waitFor(ctx, catchUpLimit, func() bool {
		for _, s := range subs {
			if s.stayed() && s.lastSeq() < top[s.log.Org] {
				return false
			}
		}
		return true
	})
	r.CatchUpSeconds = time.Since(pubEnd).Seconds()
	if !caught {
		for _, s := range subs {
			if s.stayed() && s.lastSeq() < top[s.log.Org] {
				r.fail("subscriber %s: at seq %d, %s after the end of publishing; the org's last acknowledged seq is %d",
					s.log.Name, s.lastSeq(), catchUpLimit, top[s.log.Org])
			}
		}
	}
	stopSubs()
	subWG.Wait()
	stopSampler()
	sampWG.Wait()
	for _, s := range subs {
		l := s.result()
		h.Subscribers = append(h.Subscribers, l)
		if len(l.Resets) > 0 {
			r.fail("subscriber %s was reset (it left its org's sequence): %s", l.Name, l.Resets[0])
		}
		r.Subscribers = append(r.Subscribers, l)
	}

	// The checks.
	r.history = h
	r.Verdict = Check(h)
	r.Failures = append(r.Failures, r.Verdict.Failures...)
	if n := len(r.Faults); n > 0 {
		last := r.Faults[n-1]
		r.LastWritesBack = last.WritesBack
		if last.Err == "" && (last.WritesBack < 0 || last.WritesBack > WriteBound.Seconds()) {
			r.fail("after the last fault (%s at %.1fs) healed, the first write was acknowledged after %.1fs (bound %s; -1: none within %s)",
				last.Kind, last.Start, last.WritesBack, WriteBound, probeLimit)
		}
	} else {
		r.fail("no fault was injected (duration %s too short?)", cfg.Duration)
	}
	acks := h.AckTimes()
	times := make([]float64, len(acks))
	for i, t := range acks {
		times[i] = t.Sub(start).Seconds()
	}
	slices.Sort(times)
	for i := range r.Faults {
		end := pubEnd.Sub(start).Seconds()
		if i+1 < len(r.Faults) {
			end = r.Faults[i+1].Start
		}
		r.Faults[i].LongestWriteGap = longestGap(times, r.Faults[i].Start, end)
	}
	runSeconds := pubEnd.Sub(start).Seconds()
	for i := range samples {
		tr := TrendOf(ns.name(i), samples[i], runSeconds)
		r.Trends = append(r.Trends, tr)
		if !tr.OK {
			r.fail("memory: %s", tr)
		}
	}
	r.RSS = samples
	r.NodeNames = make([]string, ns.count())
	for i := range r.NodeNames {
		r.NodeNames[i] = ns.name(i)
		r.NodeURLs = append(r.NodeURLs, ns.url(i))
	}
}

// probe publishes one event to the probe org through every node, trying
// each in turn, until each node has acknowledged one (true) or probeLimit
// passes: the cluster accepts writes again when every node does.
func (p *publisher) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, probeLimit)
	defer cancel()
	// pending[i] is the id node i is still to acknowledge: retried with
	// the same id until it does, like every publish.
	pending := make([]string, p.nodes.count())
	left := len(pending)
	for i := range pending {
		p.next++
		pending[i] = p.name + "-" + strconv.Itoa(p.next)
	}
	for node := 0; left > 0; node = (node + 1) % len(pending) {
		if ctx.Err() != nil {
			return false
		}
		id := pending[node]
		if id == "" {
			continue
		}
		actx, acancel := context.WithTimeout(ctx, probeAttempt)
		seqs, err := p.post(actx, node, probeOrg, batchBody(probeOrg, []string{id}), 1)
		acancel()
		a := Attempt{Org: probeOrg, ID: id, Data: dataFor(id), At: time.Now(), Node: p.nodes.name(node)}
		if err != nil {
			a.Err = err.Error()
			p.h.Record(a)
			ctxwait.Sleep(ctx, 100*time.Millisecond)
			continue
		}
		a.Seq = seqs[0]
		p.h.Record(a)
		pending[node] = ""
		left--
	}
	return true
}

// longestGap is the longest time without an acknowledgement in [from, to):
// times are sorted; the first gap starts at from, the last is cut at to
// (what follows belongs to the next fault).
func longestGap(times []float64, from, to float64) float64 {
	prev, longest := from, 0.0
	i, _ := slices.BinarySearch(times, from)
	for ; i < len(times) && prev < to; i++ {
		longest = max(longest, min(times[i], to)-prev)
		prev = times[i]
	}
	if prev < to {
		longest = max(longest, to-prev)
	}
	return longest
}

// waitFor polls ok every 100ms until it is true (true) or limit passes.
func waitFor(ctx context.Context, limit time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) || !ctxwait.Sleep(ctx, 100*time.Millisecond) {
			return false
		}
	}
}
