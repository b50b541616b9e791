package client

import (
	"context"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// Client follows one org's stream: it connects, reads, and reconnects
// resuming after the last event it delivered, until its Run's context ends,
// Close is called, or an error that retrying cannot fix.
type Client struct {
	cfg       Config
	urls      []*url.URL // URL, then FallbackURLs
	next      int        // index in urls of the one the next attempt dials (Run's goroutine only)
	log       *zap.Logger
	offer     []httphead.Option // the permessage-deflate offer, nil without Compression
	tokenFunc bool

	// randN and wait are replaced by tests (see export_test.go).
	randN func(n int64) int64
	wait  func(ctx context.Context, d time.Duration) bool
	// onBackoff, if set (tests), sees each decision and wait.
	onBackoff func(a action, attempt int, d time.Duration)

	running atomic.Bool
	done    chan struct{}

	mu       sync.Mutex
	closed   bool               // Close was called
	cancel   context.CancelFunc // ends Run's context
	cur      *wsConn            // the open connection
	stopping atomic.Bool        // Close or Run's context ended: deliver nothing more

	// Owned by Run's goroutine.
	tr     tracker
	frame  rawFrame
	ev     Event
	topics internCache

	// Position, readable from any goroutine: epoch changes under pmu with
	// lastSeq, lastSeq also alone (atomically) per event.
	pmu     sync.Mutex
	epoch   string
	lastSeq atomic.Uint64
	state   atomic.Int32

	events, duplicates, gaps, holes, dials, welcomes, resumes, resets atomic.Uint64
}

// New checks cfg, fills its defaults and returns a Client that does nothing
// until Run.
func New(cfg Config) (*Client, error) {
	urls, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		urls:      urls,
		log:       cfg.Logger,
		tokenFunc: cfg.TokenFunc != nil,
		randN:     rand.Int64N,
		wait:      ctxwait.Sleep,
		done:      make(chan struct{}),
		tr:        tracker{epoch: cfg.Epoch, last: cfg.LastSeq, known: cfg.Resume, trust: cfg.TrustHoles},
		epoch:     cfg.Epoch,
	}
	c.lastSeq.Store(cfg.LastSeq)
	c.state.Store(stateNone)
	if cfg.Compression {
		c.offer = []httphead.Option{wsflate.Parameters{
			ServerNoContextTakeover: true,
			ClientNoContextTakeover: true,
		}.Option()}
	}
	return c, nil
}

// target is the URL the next attempt dials (Run's goroutine only).
func (c *Client) target() *url.URL { return c.urls[c.next] }

// Position returns the epoch and the seq of the last event whose OnEvent
// call returned, or the head of the last fresh welcome or reset (see the
// package doc), or Config's Epoch and LastSeq before the first welcome.
// Safe from any goroutine; a client started later with Resume and this
// position continues without a gap.
func (c *Client) Position() (epoch string, lastSeq uint64) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.epoch, c.lastSeq.Load()
}

// State returns the client's state (Connecting before Run). Safe from any
// goroutine.
func (c *Client) State() State { return State(max(c.state.Load(), 0)) }

// stateNone is the state before Run, so that Run's first state is reported
// as a change.
const stateNone = -1

// Stats returns the client's counters. Safe from any goroutine; the
// counters are read one by one, not as one snapshot.
func (c *Client) Stats() Stats {
	d := c.dials.Load()
	return Stats{
		Events:     c.events.Load(),
		Duplicates: c.duplicates.Load(),
		Gaps:       c.gaps.Load(),
		Holes:      c.holes.Load(),
		Dials:      d,
		Reconnects: max(d, 1) - 1,
		Welcomes:   c.welcomes.Load(),
		Resumes:    c.resumes.Load(),
		Resets:     c.resets.Load(),
	}
}

// Done is closed when Run has returned.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close stops Run: the open connection is closed with 1000 (the server's
// answer is awaited for at most a second) and Run returns nil; a Run called
// after Close returns nil at once. It does not wait for Run: wait on Done
// for that; until then a callback may still be running. Safe from any
// goroutine, callbacks included, and more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil
}

// interrupt runs when Run's context ends (Close cancels it): it closes the
// open connection with 1000. Holding mu keeps the connection from being
// released meanwhile.
func (c *Client) interrupt() {
	c.stopping.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.shutdown(CloseNormal)
	}
}

// setState records s and reports a change to OnState.
func (c *Client) setState(s State) {
	if State(c.state.Swap(int32(s))) != s && c.cfg.OnState != nil {
		c.cfg.OnState(s)
	}
}

// Run connects and reads, calling the callbacks, and reconnects after
// every connection end (see the package doc for which end leads to what)
// until ctx ends (it returns ctx's error), Close is called (nil), or a
// permanent error: a refusal with 400, 403 or another 4xx, a 401 or a
// close with 4001 with a static Token, a close with 1008 or 1009 (errors.Is
// ErrRefused, ErrUnauthorized, ErrTokenExpired, ErrPolicy). Run may be
// called only once (ErrRunning).
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(c.done)
	defer c.setState(Closed)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.cancel = cancel
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, c.interrupt)
	defer stop()

	attempt := 0
	for {
		e, err := c.session(ctx)
		if ctx.Err() != nil {
			return c.exitErr(parent)
		}
		if e.healthy {
			attempt = 0
		}
		a := decide(e, c.tokenFunc)
		if a == actStop {
			c.log.Debug("orgstream client: giving up", zap.String("host", c.target().Host), zap.Error(err))
			return err
		}
		if movesOn(e) {
			c.next = (c.next + 1) % len(c.urls)
		}
		d := c.cfg.backoff(a, attempt, c.randN)
		if c.onBackoff != nil {
			c.onBackoff(a, attempt, d)
		}
		if a != actNow {
			attempt++
		}
		if d > 0 && !c.wait(ctx, d) {
			return c.exitErr(parent)
		}
	}
}

// exitErr is Run's result once its context ended: nil after Close.
func (c *Client) exitErr(parent context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return parent.Err()
}
