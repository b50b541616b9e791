package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/client"
)

// ClientPublishConfig shapes a publish load through client.Publisher, the
// way a backend publishes: one Publisher per org, fed by PublishAsync as
// fast as it acknowledges, so that the Publisher coalesces what arrives
// while a request is in flight into batch requests and pipelines them.
type ClientPublishConfig struct {
	// Window is how many events of one org may be handed over and not yet
	// acknowledged; the feeder waits for the oldest past it. Zero means
	// 1000. 1 is a sequential publisher: blocking Publish calls, one event
	// per request.
	Window int
	// Size is each event's data size in bytes. Zero means 256.
	Size int
	// Duration is the length of the run. Zero means 5s.
	Duration time.Duration
	// MaxBatchEvents, MaxInFlight and Linger configure each Publisher
	// (client.PublisherConfig; zero means its default: 1000 events, 1
	// request in flight, no linger).
	MaxBatchEvents, MaxInFlight int
	Linger                      time.Duration
	// NATS, if set, carries the publishes (a connection with the
	// publisher role's credentials: `orgstream nats-creds`) instead of
	// HTTP to node i mod the node count for org i.
	NATS *nats.Conn
}

func (c *ClientPublishConfig) validate() error {
	if c.Window < 0 || c.Size < 0 || c.Duration < 0 || c.MaxBatchEvents < 0 || c.MaxInFlight < 0 || c.Linger < 0 {
		return fmt.Errorf("%w: client publish: negative setting", ErrConfig)
	}
	c.Window = cmp0(c.Window, 1000)
	c.Size = cmp0(c.Size, 256)
	c.Duration = cmp0(c.Duration, 5*time.Second)
	return nil
}

// ClientPublishStats is what RunClientPublish measured.
type ClientPublishStats struct {
	// Events were acknowledged within the run; Rate is Events per second
	// of Elapsed.
	Events  int64
	Rate    float64
	Elapsed time.Duration
	// Requests is the number of requests that carried them (from each
	// ack's Batched: an event of a request of k events counts 1/k).
	Requests float64
	// Ack is the time from PublishAsync to the ack, in nanoseconds.
	Ack *Distribution
	// Errors counts failed events; LastErr is the last failure.
	Errors  int64
	LastErr error
}

// RunClientPublish publishes to orgs through one client.Publisher each for
// cfg.Duration and returns the acknowledged events/s and ack latency. Org i
// publishes through node i mod the node count (or cfg.NATS). Every
// Publisher is closed (flushed) before it returns; the events acknowledged
// during that flush are not counted.
func RunClientPublish(ctx context.Context, t *Target, orgs []string, cfg ClientPublishConfig) (ClientPublishStats, error) {
	if err := cfg.validate(); err != nil {
		return ClientPublishStats{}, err
	}
	if len(orgs) == 0 {
		return ClientPublishStats{}, fmt.Errorf("%w: client publish: no org", ErrConfig)
	}
	pubs := make([]*client.Publisher, len(orgs))
	var hc *http.Client
	if cfg.NATS == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
	}
	for i, org := range orgs {
		p, err := client.NewPublisher(client.PublisherConfig{
			URL: t.Nodes[i%len(t.Nodes)].URL, Org: org, Token: t.pubToken, HTTPClient: hc, NATS: cfg.NATS,
			MaxBatchEvents: cfg.MaxBatchEvents, MaxInFlight: cfg.MaxInFlight, Linger: cfg.Linger,
			MaxPending: max(cfg.Window, cfg.MaxBatchEvents, client.MaxBatch),
		})
		if err != nil {
			for _, p := range pubs[:i] {
				p.Close()
			}
			return ClientPublishStats{}, fmt.Errorf("bench: client publish: %w", err)
		}
		pubs[i] = p
	}

	// Warm up: an org's first publish loads it on the daemon, which is
	// not what the run measures.
	warm := make([]error, len(pubs))
	var wwg sync.WaitGroup
	for i, p := range pubs {
		wwg.Go(func() {
			_, warm[i] = p.Publish(ctx, client.Message{Topic: Topic, Data: appendEventData(nil, 0, "")})
		})
	}
	wwg.Wait()
	if err := errors.Join(warm...); err != nil {
		for _, p := range pubs {
			p.Close()
		}
		return ClientPublishStats{}, fmt.Errorf("bench: client publish: warm-up: %w", err)
	}

	var (
		events, errs atomic.Int64
		reqs         floatSum
		mu           sync.Mutex
		lastErr      error
		wg           sync.WaitGroup
	)
	ack := &Histogram{}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	pad := padFor(cfg.Size)
	record := func(a client.Ack, err error, t0 time.Time) {
		switch {
		case err != nil:
			if ctx.Err() == nil {
				errs.Add(1)
				mu.Lock()
				lastErr = err
				mu.Unlock()
			}
		case time.Now().Before(deadline):
			ack.RecordDuration(time.Since(t0))
			events.Add(1)
			reqs.add(1 / float64(max(a.Batched, 1)))
		}
	}
	for _, p := range pubs {
		if cfg.Window == 1 {
			// A sequential publisher: the blocking Publish, one event
			// per request.
			wg.Go(func() {
				var data []byte
				for runCtx.Err() == nil {
					t0 := time.Now()
					data = appendEventData(data[:0], t0.UnixNano(), pad)
					a, err := p.Publish(ctx, client.Message{Topic: Topic, Data: json.RawMessage(data)})
					record(a, err, t0)
				}
			})
			continue
		}
		wg.Go(func() {
			type sent struct {
				pd *client.Pending
				t0 time.Time
			}
			// window holds the events handed over and not yet acked,
			// oldest first: with one request in flight they are acked in
			// that order.
			window := make(chan sent, cfg.Window)
			var waiter sync.WaitGroup
			waiter.Go(func() {
				for s := range window {
					a, err := s.pd.Wait(ctx)
					record(a, err, s.t0)
				}
			})
			var data []byte
			for runCtx.Err() == nil {
				t0 := time.Now()
				data = appendEventData(data[:0], t0.UnixNano(), pad)
				// ctx, not runCtx: an event handed over is published to the
				// end (Close flushes it), not cut off at the deadline.
				pd, err := p.PublishAsync(ctx, client.Message{Topic: Topic, Data: json.RawMessage(data)})
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						mu.Lock()
						lastErr = err
						mu.Unlock()
					}
					break
				}
				select {
				case window <- sent{pd, t0}:
				case <-runCtx.Done():
				}
			}
			close(window)
			waiter.Wait()
		})
	}
	wg.Wait()
	elapsed := min(time.Since(start), cfg.Duration)
	for _, p := range pubs {
		p.Close()
	}
	if err := ctx.Err(); err != nil {
		return ClientPublishStats{}, err
	}
	st := ClientPublishStats{Events: events.Load(), Elapsed: elapsed, Requests: reqs.load(),
		Ack: ack.Snapshot(), Errors: errs.Load(), LastErr: lastErr}
	st.Rate = float64(st.Events) / elapsed.Seconds()
	return st, nil
}

// floatSum is a float64 that goroutines add to.
type floatSum struct{ bits atomic.Uint64 }

func (f *floatSum) add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (f *floatSum) load() float64 { return math.Float64frombits(f.bits.Load()) }

// record adds the run's figures to r under name (e.g. "client ×16 orgs"):
// events/s, events per request, ack p50 and p99, the ack distribution, and
// a failure if any event failed.
func (st ClientPublishStats) record(r *Result, name, target string) {
	r.metric(name+": events/s", st.Rate, "events/s", target)
	if st.Requests > 0 {
		r.metric(name+": events/request", float64(st.Events)/st.Requests, "events", "")
	}
	r.metric(name+": ack p50", float64(st.Ack.Quantile(0.5))/1e6, "ms", "")
	r.metric(name+": ack p99", float64(st.Ack.Quantile(0.99))/1e6, "ms", "")
	r.latency("ack, "+name, st.Ack)
	if st.Errors > 0 {
		r.failf("%s: %d events failed, last: %v", name, st.Errors, st.LastErr)
	}
}
