package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Scenario names, as the command spells them.
const (
	ScenarioIdle         = "idle"
	ScenarioFanout       = "fanout"
	ScenarioResumeStorm  = "resume-storm"
	ScenarioPublish      = "publish"
	ScenarioSlowConsumer = "slow-consumer"
	ScenarioLargeEvents  = "large-events"
)

// Scenarios lists every scenario in suite order.
var Scenarios = []string{ScenarioIdle, ScenarioFanout, ScenarioResumeStorm, ScenarioPublish, ScenarioSlowConsumer, ScenarioLargeEvents}

// orgNames returns m org ids for this target's run, prefixed by what.
func orgNames(t *Target, what string, m int) []string {
	orgs := make([]string, m)
	for i := range orgs {
		orgs[i] = t.Org(fmt.Sprintf("%s%d", what, i))
	}
	return orgs
}

// fleetStatus is a progress line for a fleet: open streams, events, rate.
func fleetStatus(f *fleet, extra func() string) func() string {
	var m rateMeter
	return func() string {
		ev := float64(f.events())
		s := fmt.Sprintf("conns %d/%d  events %s  rate %s/s", f.connected.Load(), len(f.conns),
			groupThousands(fmt.Sprintf("%.0f", ev)), rateText(m.rate(ev)))
		if extra != nil {
			s += "  " + extra()
		}
		return s
	}
}

// connectTimeout scales the time allowed to open n streams.
func connectTimeout(n int) time.Duration {
	return 60*time.Second + time.Duration(n)*5*time.Millisecond
}

// fleetChecks adds the failures every scenario shares: clients that could
// not connect, and errors seen.
func fleetChecks(r *Result, f *fleet) {
	if n := f.failed.Load(); n > 0 {
		r.failf("%d of %d clients could not open (or reopen) their stream", n, len(f.conns))
	}
	if codes := f.closeCodeCounts(); len(codes) > 0 {
		keys := make([]string, 0, len(codes))
		for k := range codes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s×%d", k, codes[k])
		}
		r.notef("close codes from the server: %s", strings.Join(parts, ", "))
	}
	if errs := f.errorSummary(); len(errs) > 0 {
		r.notef("client errors: %s", strings.Join(errs, "; "))
	}
}

// seqChecks records the sequence figures and fails on any gap or duplicate.
func seqChecks(r *Result, s SeqTracker, resets int64) {
	r.metric("gaps", float64(s.Gaps), "", "0")
	r.metric("missing events", float64(s.Missing), "", "0")
	r.metric("duplicates", float64(s.Dups), "", "0")
	if s.Gaps > 0 {
		r.failf("%d gaps (%d events missing)", s.Gaps, s.Missing)
	}
	if s.Dups > 0 {
		r.failf("%d duplicate events", s.Dups)
	}
	if resets > 0 {
		r.metric("resets", float64(resets), "", "0")
		r.failf("%d reset frames (a resume that could not be served)", resets)
	}
}

// runtimeSnapshot is the daemon's RSS and Go runtime figures at a moment.
type runtimeSnapshot struct {
	rss   int64
	rssOK bool
	rt    Runtime
	rtErr error
}

func (t *Target) snapshot(ctx context.Context) runtimeSnapshot {
	var s runtimeSnapshot
	s.rss, s.rssOK = t.RSS()
	s.rt, s.rtErr = t.Runtime(ctx)
	return s
}

const mib = 1 << 20

// label is a string shown by the progress line and set by the scenario.
type label struct{ v atomic.Value }

func newLabel(s string) *label {
	l := &label{}
	l.set(s)
	return l
}

func (l *label) set(s string) { l.v.Store(s) }
func (l *label) get() string  { return l.v.Load().(string) }
