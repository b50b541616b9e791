package bench

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// The targets for the publish scenario (issue 13), shown in the
// target column; not asserted.
const (
	targetBatched   = "≥ 100k (batched)"
	targetRatio     = "≥ 0.8"
	targetSingleCPU = "≤ 60"
)

// runAnchorFor runs the raw JetStream anchor for the publish scenario and
// adds its figures to r. An anchor that cannot run fails r, and the
// orgstream runs go on; only a cancelled ctx is returned.
func runAnchorFor(ctx context.Context, r *Result, t *Target, cfg AnchorConfig) (*AnchorResult, error) {
	if t != nil && t.cfg.Progress != nil {
		fmt.Fprintf(t.cfg.Progress, "%s: raw JetStream anchor first: 3 shapes × %s\n", ScenarioPublish, cfg.Duration)
	}
	a, err := RunAnchor(ctx, cfg)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		r.failf("raw JetStream anchor: %v", err)
		return nil, nil
	}
	r.param("anchor", fmt.Sprintf("standalone nats-server %s (own process, pid %d), JetStream file store, R1, "+
		"nats.go %s, one connection per publisher; async window %d", server.VERSION, a.ServerPID,
		moduleVersion("github.com/nats-io/nats.go"), cfg.Window))
	if len(cfg.Natscli) > 0 {
		r.param("natscli cross-check", strings.Join(cfg.Natscli, " ")+
			" bench js pub sync|async, same server, stream NATSCLI (--create), message count = the nats.go rate × duration")
		r.notef("natscli's %d sync clients share one subject (it has no subject per client); the nats.go shape gives each its own",
			a.Parallel.Publishers)
	}
	for _, sh := range a.shapes() {
		name := "raw JetStream " + sh.label(cfg.Window)
		r.metric(name+": msgs/s", sh.Rate, "msgs/s", "")
		r.metric(name+": ack p50", sh.AckP50, "ms", "")
		r.metric(name+": ack p99", sh.AckP99, "ms", "")
		if sh.ServerCPUPerMsg >= 0 {
			r.metric(name+": server CPU per publish", sh.ServerCPUPerMsg, "µs", "")
		}
		r.metric(name+": harness CPU per publish", sh.HarnessCPUPerMsg, "µs", "")
		switch {
		case sh.NatscliErr != nil:
			r.notef("natscli cross-check of %s: %v", sh.label(cfg.Window), sh.NatscliErr)
		case sh.Natscli > 0:
			r.metric("natscli bench js pub "+sh.label(cfg.Window)+": msgs/s", sh.Natscli, "msgs/s", "")
		}
	}
	return a, nil
}

// moduleVersion is the version of module path linked into this binary,
// "(unknown)" without build information.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown)"
}

func (a *AnchorResult) shapes() []AnchorShape { return []AnchorShape{a.Sync, a.Parallel, a.Async} }

// label names a shape in results: "sync ×1", "sync ×16", "async (window
// 500)".
func (sh AnchorShape) label(window int) string {
	if sh.Name == AnchorAsync {
		return fmt.Sprintf("async (window %d)", window)
	}
	return fmt.Sprintf("sync ×%d", sh.Publishers)
}

// publishFigures are the orgstream figures the issue compares with the
// anchor.
type publishFigures struct {
	seqSingle, parSingle, batched float64
	// seqSingleCPU is the daemon's CPU per event of the sequential single
	// publishes, µs; 0 when unknown.
	seqSingleCPU float64
}

// add records one run: parallel or not, batch b, its events/s and CPU.
func (f *publishFigures) add(parallel bool, b int, rate float64, u cpuUsage) {
	switch {
	case b == 1 && !parallel:
		f.seqSingle = rate
		if u.daemon >= 0 && rate > 0 {
			f.seqSingleCPU = u.daemon / rate * 1e6
		}
	case b == 1:
		f.parSingle = rate
	case b >= 100:
		f.batched = max(f.batched, rate)
	}
}

// report adds the rows (each with its target) to r and, with an
// anchor, a side-by-side table.
func (f *publishFigures) report(r *Result, a *AnchorResult, orgs int, window int) {
	var rows [][]string
	ratio := func(ours, raw float64) string {
		if ours <= 0 || raw <= 0 {
			return ""
		}
		return FormatValue(ours / raw)
	}
	cell := func(v float64) string {
		if v <= 0 {
			return ""
		}
		return FormatValue(v)
	}
	if a != nil && f.seqSingle > 0 {
		r.metric("sequential singles / raw sync", f.seqSingle/a.Sync.Rate, "×", targetRatio)
	}
	if a != nil && f.parSingle > 0 {
		r.metric(fmt.Sprintf("%d parallel orgs / raw %d sync", orgs, a.Parallel.Publishers),
			f.parSingle/a.Parallel.Rate, "×", targetRatio)
	}
	if f.batched > 0 {
		r.metric("batched events/s", f.batched, "events/s", targetBatched)
	}
	if f.seqSingleCPU > 0 {
		r.metric("daemon CPU µs per single publish", f.seqSingleCPU, "µs", targetSingleCPU)
	}
	if a == nil {
		return
	}
	natscli := func(sh AnchorShape) string { return cell(sh.Natscli) }
	rows = append(rows,
		[]string{"one publisher, one event per request", cell(a.Sync.Rate), natscli(a.Sync), cell(f.seqSingle),
			ratio(f.seqSingle, a.Sync.Rate), targetRatio + "×"},
		[]string{fmt.Sprintf("%d publishers in parallel (%d orgs)", a.Parallel.Publishers, orgs), cell(a.Parallel.Rate),
			natscli(a.Parallel), cell(f.parSingle), ratio(f.parSingle, a.Parallel.Rate), targetRatio + "×"},
		[]string{fmt.Sprintf("async (window %d) / batched (best of batch ≥ 100)", window), cell(a.Async.Rate),
			natscli(a.Async), cell(f.batched), ratio(f.batched, a.Async.Rate), "orgstream " + targetBatched},
	)
	if a.Sync.ServerCPUPerMsg >= 0 && f.seqSingleCPU > 0 {
		rows = append(rows, []string{"server CPU per single publish (µs, sequential)", cell(a.Sync.ServerCPUPerMsg), "",
			cell(f.seqSingleCPU), ratio(f.seqSingleCPU, a.Sync.ServerCPUPerMsg), "orgstream " + targetSingleCPU + " µs"})
	}
	cols := []string{"shape", "raw JetStream (nats.go)", "natscli bench", "orgstream", "orgstream ÷ raw", "target"}
	if a.Sync.Natscli <= 0 && a.Parallel.Natscli <= 0 && a.Async.Natscli <= 0 {
		// natscli did not run: no empty column.
		cols = slices.Delete(cols, 2, 3)
		for i := range rows {
			rows[i] = slices.Delete(rows[i], 2, 3)
		}
	}
	r.Tables = append(r.Tables, Table{Title: "orgstream against raw JetStream, same run (events/s unless noted)",
		Columns: cols, Rows: rows})
}
