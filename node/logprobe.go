package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/persistence"
)

// probeFailuresNeeded is how many probes in a row must fail before the log
// counts as unwritable: one slow answer on a loaded node is not an outage.
// A probe that finds the stream without a leader counts at once.
const probeFailuresNeeded = 2

// logProbe asks the log every interval whether it can take writes, so that
// /readyz tells a load balancer (and an operator) during a JetStream leader
// election or a lost quorum. Streams are still served meanwhile (from
// memory and the log's replicas). Publishes are refused with 503 without
// being sent only while the events stream has no leader
// (persistence.ErrNoLeader, positive evidence); after mere timeouts they
// still go to the log, which answers them.
type logProbe struct {
	check    func(context.Context) error
	interval time.Duration
	log      *zap.Logger

	err    atomic.Pointer[error] // nil while writable
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startLogProbe(check func(context.Context) error, interval time.Duration, log *zap.Logger) *logProbe {
	ctx, cancel := context.WithCancel(context.Background())
	p := &logProbe{check: check, interval: interval, log: log, cancel: cancel}
	p.wg.Go(func() { p.run(ctx) })
	return p
}

func (p *logProbe) run(ctx context.Context) {
	t := time.NewTimer(p.interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A probe may take half an interval: the embedded server answers in
		// well under a millisecond, and nobody answers during an election.
		pctx, cancel := context.WithTimeout(ctx, p.interval/2)
		err := p.check(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
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

// Err is nil while the log takes writes, else the last probe's error.
func (p *logProbe) Err() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (p *logProbe) stop() {
	p.cancel()
	p.wg.Wait()
}
