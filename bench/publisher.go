package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// MaxBatch is the largest publish batch PROTOCOL.md accepts.
const MaxBatch = 1000

// ErrPublish wraps a publish the daemon refused or did not answer.
var ErrPublish = errors.New("bench: publish")

// publishAnswer is the 201/200 body of a publish.
type publishAnswer struct {
	Seq  uint64   `json:"seq"`
	Seqs []uint64 `json:"seqs"`
}

// publish POSTs body to org's events through node i (mod the node count)
// and returns the last seq assigned.
func (t *Target) publish(ctx context.Context, node int, org string, body []byte) (uint64, error) {
	return postEvents(ctx, t.http, t.Nodes[node%len(t.Nodes)].URL, t.pubToken, org, body)
}

// postEvents POSTs body to org's events at baseURL with token and returns
// the last seq assigned; a status other than 201 or 200 is an error.
func postEvents(ctx context.Context, client *http.Client, baseURL, token, org string, body []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		baseURL+"/v2/realtime/orgs/"+url.PathEscape(org)+"/events", bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPublish, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPublish, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("%w: read answer: %w", ErrPublish, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		if len(b) > 200 {
			b = b[:200]
		}
		return 0, fmt.Errorf("%w: status %d: %s", ErrPublish, resp.StatusCode, bytes.TrimSpace(b))
	}
	var a publishAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return 0, fmt.Errorf("%w: answer: %w", ErrPublish, err)
	}
	if n := len(a.Seqs); n > 0 {
		return a.Seqs[n-1], nil
	}
	if a.Seq == 0 {
		return 0, fmt.Errorf("%w: answer without a seq", ErrPublish)
	}
	return a.Seq, nil
}

// pacer publishes events of a given size to several orgs at a total rate,
// one goroutine per org, each posting sequentially: every tick it sends
// what is due as one batch (at most maxBatch), stamped with the send time.
// Org i's events go through node i mod the node count, so that in a
// cluster most deliveries cross nodes.
type pacer struct {
	sink     publishSink
	orgs     []string
	rate     float64 // events/s, all orgs together
	size     int
	maxBatch int
	tick     time.Duration

	heads     []atomic.Uint64 // last seq acknowledged per org
	counts    []atomic.Int64  // events acknowledged per org
	published atomic.Int64
	errors    atomic.Int64
	ack       Histogram // ack latency per request, ns

	errMu   sync.Mutex
	lastErr error

	haltc    chan struct{}
	haltOnce sync.Once
}

// halt makes run return after the requests in flight; safe to call twice.
func (p *pacer) halt() { p.haltOnce.Do(func() { close(p.haltc) }) }

// publishSink is where a pacer's batches go: how a batch body is built and
// how it is posted. An orgstream target and Centrifugo differ only here.
type publishSink interface {
	// appendBatch appends to b a body of n events for org i, each with
	// data EventData(sent, size) (pad is padFor(size)).
	appendBatch(b []byte, i, n int, sent int64, pad string) []byte
	// post sends body for org i and returns the last seq assigned (0
	// when the server has none).
	post(ctx context.Context, i int, body []byte) (uint64, error)
}

// orgstreamSink posts to an orgstream Target's publish endpoint.
type orgstreamSink struct {
	t    *Target
	orgs []string
}

func (s orgstreamSink) appendBatch(b []byte, _, n int, sent int64, pad string) []byte {
	return batchBuilder{pad: pad}.append(b, n, sent)
}

func (s orgstreamSink) post(ctx context.Context, i int, body []byte) (uint64, error) {
	return s.t.publish(ctx, i, s.orgs[i], body)
}

func newPacer(t *Target, orgs []string, rate float64, size, maxBatch int) *pacer {
	return newPacerTo(orgstreamSink{t: t, orgs: orgs}, orgs, rate, size, maxBatch)
}

// newPacerTo is a pacer that publishes through sink.
func newPacerTo(sink publishSink, orgs []string, rate float64, size, maxBatch int) *pacer {
	if maxBatch <= 0 || maxBatch > MaxBatch {
		maxBatch = MaxBatch
	}
	// A pacer that fell behind sends a whole batch at once: keep it within
	// the body limit.
	maxBatch = min(maxBatch, EventsPerBody(size))
	tick := 5 * time.Millisecond
	if per := rate / float64(len(orgs)); per > 0 && per < 200 {
		// Few events per org: one per tick, no batching delay to speak of.
		tick = min(time.Duration(float64(time.Second)/per), 100*time.Millisecond)
	}
	return &pacer{sink: sink, orgs: orgs, rate: rate, size: size, maxBatch: maxBatch, tick: tick,
		heads: make([]atomic.Uint64, len(orgs)), counts: make([]atomic.Int64, len(orgs)), haltc: make(chan struct{})}
}

// run publishes for d (or until ctx ends) and returns when every org's
// publisher has its last answer.
func (p *pacer) run(ctx context.Context, d time.Duration) {
	var wg sync.WaitGroup
	per := p.rate / float64(len(p.orgs))
	start := time.Now()
	for i := range p.orgs {
		wg.Go(func() { p.runOrg(ctx, i, per, start.Add(phase(i, len(p.orgs), per)), d) })
	}
	wg.Wait()
}

// phase is org i's offset in the pacing period 1/per: the orgs' events
// interleave evenly, so the total rate arrives as a steady stream, not as a
// burst of one event per org at each period (which measured how long a
// burst of orgs × conns deliveries takes, not the latency at the rate).
func phase(i, orgs int, per float64) time.Duration {
	if per <= 0 || orgs <= 1 {
		return 0
	}
	return time.Duration(float64(i) / float64(orgs) / per * float64(time.Second))
}

func (p *pacer) runOrg(ctx context.Context, i int, rate float64, start time.Time, d time.Duration) {
	if wait := time.Until(start); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.haltc:
			t.Stop()
			return
		case <-t.C:
		}
	}
	pad := padFor(p.size)
	var body []byte
	var sent int64
	tick := time.NewTicker(p.tick)
	defer tick.Stop()
	for {
		select {
		case <-p.haltc:
			return
		default:
		}
		now := time.Now()
		elapsed := now.Sub(start)
		if elapsed >= d {
			elapsed = d
		}
		if n := EventsDue(rate, int64(elapsed), sent, p.maxBatch); n > 0 {
			body = p.sink.appendBatch(body[:0], i, n, time.Now().UnixNano(), pad)
			t0 := time.Now()
			head, err := p.sink.post(ctx, i, body)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.errors.Add(1)
				p.errMu.Lock()
				p.lastErr = err
				p.errMu.Unlock()
			} else {
				p.ack.RecordDuration(time.Since(t0))
				p.heads[i].Store(head)
				p.counts[i].Add(int64(n))
				p.published.Add(int64(n))
			}
			sent += int64(n) // a refused batch is not retried: pacing goes on
			if EventsDue(rate, int64(elapsed), sent, 1) > 0 {
				continue // behind: send the rest at once
			}
		}
		if now.Sub(start) >= d {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-p.haltc:
			return
		case <-tick.C:
		}
	}
}

func (p *pacer) err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.lastErr
}
