package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/persistence"
)

// probeFailuresNeeded is how many probes in a row must fail before the log
// counts as unwritable: one slow answer on a loaded node is not an outage.
// A probe that finds the stream without a leader counts at once.
const probeFailuresNeeded = 2

// logProbe asks the log every interval whether it can take writes, so that
// /readyz tells a load balancer (and an operator) during a JetStream leader
// election or a lost quorum. Streams are still served meanwhile (from
// memory and the log's replicas). Publishes to an org are refused with 503
// without being sent only while the events stream of the org's partition
// has no leader (persistence.ErrNoLeader, positive evidence; refuses);
// those to the orgs of other partitions, and all of them after mere
// timeouts, still go to the log, which answers them.
//
// Each probe also records the streams' leaders in the metrics, so that
// GET /v2/realtime/metrics names them without a request of its own.
type logProbe struct {
	check    func(context.Context) ([]persistence.StreamStatus, error)
	interval time.Duration
	metrics  *metrics.Metrics
	log      *zap.Logger

	err atomic.Pointer[error] // nil while writable
	// streams is the last probe's answer: each stream's leader.
	streams atomic.Pointer[[]persistence.StreamStatus]
	first   chan struct{} // closed once the first probe is taken in
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startLogProbe probes at once, then every interval. check is
// JetStreamLog.Status.
func startLogProbe(check func(context.Context) ([]persistence.StreamStatus, error), interval time.Duration,
	m *metrics.Metrics, log *zap.Logger) *logProbe {
	ctx, cancel := context.WithCancel(context.Background())
	p := &logProbe{check: check, interval: interval, metrics: m, log: log, first: make(chan struct{}), cancel: cancel}
	p.wg.Go(func() { p.run(ctx) })
	return p
}

// waitFirst waits until the first probe is taken in (or ctx ends), so that
// a node that says it is ready already shows its streams' leaders.
func (p *logProbe) waitFirst(ctx context.Context) {
	select {
	case <-p.first:
	case <-ctx.Done():
	}
}

func (p *logProbe) run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for probes := 0; ; probes++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A probe may take half an interval: the embedded server answers in
		// well under a millisecond, and nobody answers during an election.
		pctx, cancel := context.WithTimeout(ctx, p.interval/2)
		streams, err := p.check(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.record(streams)
		if err == nil {
			if p.err.Swap(nil) != nil {
				p.log.Info("log takes writes again")
			}
			failures = 0
		} else {
			failures++
			if failures >= probeFailuresNeeded || errors.Is(err, persistence.ErrNoLeader) {
				if p.err.Swap(&err) == nil {
					p.log.Warn("log cannot take writes: /readyz answers 503", zap.Error(err))
				}
			}
		}
		if probes == 0 {
			close(p.first)
		}
		// While the log is down, look 4 times as often: publishes are
		// refused while the stream has no leader, so the end of an
		// election should be seen soon.
		next := p.interval
		if p.err.Load() != nil {
			next /= 4
		}
		t.Reset(next)
	}
}

// record puts the streams' leaders in the metrics.
func (p *logProbe) record(streams []persistence.StreamStatus) {
	p.streams.Store(&streams)
	ls := make([]metrics.LogStream, len(streams))
	for i, st := range streams {
		ls[i] = metrics.LogStream{Name: st.Name, Leader: st.Leader}
	}
	p.metrics.SetLogStreams(ls)
}

// Err is nil while the log takes writes, else the last probe's error.
func (p *logProbe) Err() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

// refuses tells whether a publish to an org of stream (its partition's
// events stream) is to be answered 503 without being sent: the log has a
// stream without a leader (ErrNoLeader), and the last probe saw none for
// this one (no leader, or no answer).
func (p *logProbe) refuses(stream string) bool {
	if !errors.Is(p.Err(), persistence.ErrNoLeader) {
		return false
	}
	st := p.streams.Load()
	if st == nil {
		return true
	}
	for _, s := range *st {
		if s.Name == stream {
			return s.Leader == ""
		}
	}
	return true
}

func (p *logProbe) stop() {
	p.cancel()
	p.wg.Wait()
}
