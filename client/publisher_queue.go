package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPublisherClosed is returned by a publish after Close or Shutdown began:
// nothing was sent.
var ErrPublisherClosed = errors.New("client: publisher closed")

// The frame of a request of several events; the events go between, comma
// separated.
const (
	batchOpen  = `{"events":[`
	batchClose = `]}`
)

// queue holds the groups not yet sent, and runs the senders: one goroutine
// per request in flight (at most MaxInFlight), started when a group is
// queued and a slot is free, ending when it finds the queue empty.
type queue struct {
	mu       sync.Mutex
	groups   []*group
	events   int           // events in groups
	room     chan struct{} // closed (and replaced) when events drops
	inFlight int           // senders running
	closed   bool
	wg       sync.WaitGroup
	// full gets a token when MaxBatchEvents are queued, to end a Linger.
	full chan struct{}
	// closing is closed by Shutdown: lingering ends, nothing new is queued.
	closing   chan struct{}
	closeOnce sync.Once
	// stop ends every request and retry (Shutdown's ctx ended); what is
	// still queued fails with ErrPublisherClosed.
	stop       context.Context
	cancelStop context.CancelCauseFunc
	stopped    atomic.Bool
}

func (q *queue) init() {
	q.room = make(chan struct{})
	q.full = make(chan struct{}, 1)
	q.closing = make(chan struct{})
	q.stop, q.cancelStop = context.WithCancelCause(context.Background())
}

// push queues g, waiting for room (while others are queued) or ctx, and
// starts a sender if a slot is free. With inline (a blocking call) and
// nothing queued before g, no Linger and a free slot, it takes the slot and
// g for the caller instead and returns true: the caller sends g itself
// (sendInline), sparing a goroutine hand-off each way on the path of a
// sequential publisher. g alone is what a new sender would have taken.
func (q *queue) push(ctx context.Context, p *Publisher, g *group, inline bool) (bool, error) {
	q.mu.Lock()
	for !q.closed && q.events > 0 && q.events+len(g.evs) > p.cfg.MaxPending {
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return false, fmt.Errorf("client: publish not queued: %w", ctx.Err())
		}
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return false, ErrPublisherClosed
	}
	if inline && len(q.groups) == 0 && p.cfg.Linger == 0 && q.inFlight < p.cfg.MaxInFlight {
		q.inFlight++
		q.wg.Add(1)
		q.mu.Unlock()
		return true, nil
	}
	q.groups = append(q.groups, g)
	q.events += len(g.evs)
	if q.inFlight < p.cfg.MaxInFlight {
		q.inFlight++
		q.wg.Add(1)
		go p.run()
	} else if q.events >= p.cfg.MaxBatchEvents {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
	return false, nil
}

// sendInline sends g, for which push gave the caller a sender's slot, on
// the caller's goroutine, then hands the slot to a sender goroutine if
// events were queued meanwhile.
func (p *Publisher) sendInline(g *group) {
	p.sendGroups([]*group{g}, len(g.evs))
	q := &p.q
	q.mu.Lock()
	if len(q.groups) > 0 {
		go p.run() // keeps the slot and its wg count
		q.mu.Unlock()
		return
	}
	q.inFlight--
	q.mu.Unlock()
	q.wg.Done()
}

// run is a sender: it sends what is queued, one request at a time, until
// the queue is empty.
func (p *Publisher) run() {
	defer p.q.wg.Done()
	for {
		if p.cfg.Linger > 0 {
			p.linger()
		}
		gs, n := p.take()
		if gs == nil {
			return
		}
		p.sendGroups(gs, n)
	}
}

// linger waits Linger for the queue to hold MaxBatchEvents, unless the
// Publisher closes.
func (p *Publisher) linger() {
	p.q.mu.Lock()
	enough := p.q.events >= p.cfg.MaxBatchEvents || len(p.q.groups) == 0
	p.q.mu.Unlock()
	if enough {
		return
	}
	t := time.NewTimer(p.cfg.Linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.q.full:
	case <-p.q.closing:
	}
}

// take removes the next request's groups from the queue: the first, and
// after it as many as fit (MaxBatchEvents events, a 1 MiB body), none of
// them alone, provided at least MinBatchEvents are queued when the first is
// a single event. Groups whose context ended are dropped (failed) on the
// way. It returns nil, and ends the sender's slot, when the queue is empty.
func (p *Publisher) take() ([]*group, int) {
	q := &p.q
	q.mu.Lock()
	defer q.mu.Unlock()
	var gs []*group
	n, size, dropped := 0, len(batchOpen)+len(batchClose), 0
	i := 0
	for ; i < len(q.groups); i++ {
		g := q.groups[i]
		if q.stopped.Load() {
			g.fail(ErrPublisherClosed, 0, 0)
			dropped += len(g.evs)
			continue
		}
		if err := g.ctx.Err(); err != nil {
			g.fail(&PublishError{Err: fmt.Errorf("not sent: %w", err)}, 0, 0)
			dropped += len(g.evs)
			continue
		}
		if len(gs) > 0 && (g.alone || gs[0].alone || n+len(g.evs) > p.cfg.MaxBatchEvents || size+g.size > maxBody ||
			(gs[0].single && q.events-dropped < p.cfg.MinBatchEvents)) {
			break
		}
		gs = append(gs, g)
		n += len(g.evs)
		size += g.size
	}
	for j := range i {
		q.events -= len(q.groups[j].evs)
		q.groups[j] = nil
	}
	q.groups = q.groups[i:]
	if len(q.groups) == 0 {
		q.groups = nil // let the backing array go
	}
	close(q.room)
	q.room = make(chan struct{})
	if gs == nil {
		q.inFlight--
	}
	return gs, n
}

// sendGroups sends gs (n events) as one request, with retries, and
// finishes each group with its part of the answer.
func (p *Publisher) sendGroups(gs []*group, n int) {
	ids := make([]string, 0, n)
	var body []byte
	if len(gs) == 1 && gs[0].single {
		body = gs[0].evs[0]
	} else {
		size := len(batchOpen) + len(batchClose)
		for _, g := range gs {
			size += g.size
		}
		body = make([]byte, 0, size)
		body = append(body, batchOpen...)
		for _, g := range gs {
			for _, ev := range g.evs {
				if len(body) > len(batchOpen) {
					body = append(body, ',')
				}
				body = append(body, ev...)
			}
		}
		body = append(body, batchClose...)
	}
	for _, g := range gs {
		ids = append(ids, g.ids...)
	}
	ctx, cancel := requestContext(p.q.stop, gs)
	status, a, attempts, err := p.send(ctx, body, ids)
	cancel()
	if err != nil {
		for _, g := range gs {
			g.fail(err, attempts, n)
		}
		return
	}
	seqs := a.Seqs
	if a.Seq != nil && len(gs) == 1 && gs[0].single {
		seqs = []uint64{*a.Seq}
	}
	if len(seqs) != n {
		err := &PublishError{Status: status, Attempts: attempts, Err: fmt.Errorf("answer has %d seqs for %d events", len(seqs), n)}
		for _, g := range gs {
			g.fail(err, attempts, n)
		}
		return
	}
	for _, g := range gs {
		k := len(g.evs)
		g.finish(groupResult{seqs: seqs[:k:k], dup: status == http.StatusOK, attempts: attempts, batched: n})
		seqs = seqs[k:]
	}
}

// requestContext is the context of one request: it ends with stop, or once
// the contexts of all of gs ended (nobody is left to want the answer).
// Its cause (context.Cause) is the last caller's, or ErrPublisherClosed.
func requestContext(stop context.Context, gs []*group) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(stop)
	for _, g := range gs {
		if g.ctx.Done() == nil {
			return ctx, func() { cancel(nil) } // a caller that waits for ever
		}
	}
	var left atomic.Int32
	left.Store(int32(len(gs)))
	stops := make([]func() bool, len(gs))
	for i, g := range gs {
		stops[i] = context.AfterFunc(g.ctx, func() {
			if left.Add(-1) == 0 {
				cancel(context.Cause(g.ctx))
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel(nil)
	}
}

// Shutdown stops taking events (publishes fail with ErrPublisherClosed),
// sends what is queued and waits until every request is answered or given
// up. If ctx ends first, it ends the requests and their retries (their
// events fail with ErrOutcomeUnknown, those never sent with
// ErrPublisherClosed), waits for the senders to return, and returns ctx's
// error. Then it closes the idle HTTP connections. Safe to call more than
// once and concurrently.
func (p *Publisher) Shutdown(ctx context.Context) error {
	q := &p.q
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		close(q.closing)
		close(q.room) // publishers waiting for room see closed
		q.room = make(chan struct{})
		q.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		q.stopped.Store(true)
		q.cancelStop(ErrPublisherClosed)
		<-done
		err = fmt.Errorf("client: publisher shutdown: %w", ctx.Err())
	}
	if p.cfg.HTTPClient != nil {
		p.cfg.HTTPClient.CloseIdleConnections()
	}
	return err
}

// Close is Shutdown without a bound: it flushes what is queued and waits
// for the answers (each request is bounded by RetryFor and its callers'
// contexts), then closes the idle HTTP connections. Publishing after
// Close fails with ErrPublisherClosed.
func (p *Publisher) Close() { _ = p.Shutdown(context.Background()) }
