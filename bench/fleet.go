package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgstream/orgstream/internal/ctxwait"
)

// Defaults of fleetConfig.
const (
	defaultDialConcurrency = 256
	defaultReadBuf         = 4096
	maxDialAttempts        = 5
)

// fleetConfig shapes a fleet of stream clients.
type fleetConfig struct {
	// orgs are the org ids; client i reads orgs[i%len(orgs)] from node
	// nodeFor(i, len(orgs), node count).
	orgs []string
	// n is the number of clients.
	n int
	// sub names client i's user sub+strconv(i). Empty means "u".
	sub string
	// reconnect makes a client whose stream ends (close frame or error)
	// resume after its last seq, as a real client would.
	reconnect bool
	// dialConcurrency bounds dials plus handshakes in flight. Zero means
	// defaultDialConcurrency.
	dialConcurrency int
	// readBuf is each client's read buffer. Zero means defaultReadBuf.
	readBuf int
	// rcvBuf, if not zero, sets SO_RCVBUF on each socket before connect.
	rcvBuf int
	// poll hands each welcomed stream to a few pollers (epoll, Linux)
	// instead of reading it on its own goroutine: the harness then costs
	// far less per received frame. Not with pause.
	poll bool
}

// fleet is n stream clients, one goroutine each while started.
type fleet struct {
	t     *Target
	cfg   fleetConfig
	conns []*streamConn
	goals []atomic.Uint64                  // per org: the seq every client must reach (0: none)
	hist  atomic.Pointer[ShardedHistogram] // event latency, nil: not recorded
	// connect is the time from dial to welcome of every session since
	// the last start.
	connect *Histogram

	stopping  atomic.Bool
	pollers   []*poller // while started with cfg.poll
	cancel    context.CancelFunc
	stopAfter func() bool   // unregisters the close-on-cancel hook
	afterDone chan struct{} // closed when that hook has run
	wg        sync.WaitGroup

	startedAt   atomic.Int64
	lastWelcome atomic.Int64
	welcomes    atomic.Int64 // since start
	connected   atomic.Int64 // open streams
	failed      atomic.Int64 // clients that gave up dialing
	dropped     atomic.Int64 // streams that ended while not stopping
	reconnects  atomic.Int64
	resets      atomic.Int64
	gaps        atomic.Int64
	dups        atomic.Int64

	mu         sync.Mutex
	closeCodes map[int]int
	errs       map[string]int
}

func newFleet(t *Target, cfg fleetConfig) (*fleet, error) {
	if cfg.n < 0 || len(cfg.orgs) == 0 {
		return nil, fmt.Errorf("%w: a fleet needs orgs and n ≥ 0", ErrConfig)
	}
	if cfg.dialConcurrency <= 0 {
		cfg.dialConcurrency = defaultDialConcurrency
	}
	if cfg.readBuf <= 0 {
		cfg.readBuf = defaultReadBuf
	}
	if cfg.sub == "" {
		cfg.sub = "u"
	}
	f := &fleet{t: t, cfg: cfg, goals: make([]atomic.Uint64, len(cfg.orgs)),
		closeCodes: map[int]int{}, errs: map[string]int{}}
	f.conns = make([]*streamConn, cfg.n)
	for i := range f.conns {
		f.conns[i] = &streamConn{idx: i, org: i % len(cfg.orgs), node: nodeFor(i, len(cfg.orgs), len(t.Nodes)),
			sub: cfg.sub + fmt.Sprint(i)}
	}
	return f, nil
}

// moveNodes makes every client's next sessions go to the node k further
// (mod the node count); call only while stopped.
func (f *fleet) moveNodes(k int) {
	if n := len(f.t.Nodes); n > 1 {
		for _, c := range f.conns {
			c.node = (c.node + k) % n
		}
	}
}

// start launches every client: live from head, or (resume) resuming from
// its last position. Tokens are minted on first use.
func (f *fleet) start(ctx context.Context, resume bool) {
	ctx, f.cancel = context.WithCancel(ctx)
	f.stopping.Store(false)
	f.welcomes.Store(0)
	f.failed.Store(0)
	f.connect = &Histogram{}
	f.startedAt.Store(time.Now().UnixNano())
	for _, c := range f.conns {
		c.doneAt.Store(0)
	}
	if f.cfg.poll && pollSupported {
		ps, err := startPollers(f.pollSet())
		if err != nil {
			f.noteErr(err) // the streams are read by their goroutines
		}
		f.pollers = ps
	}
	sem := make(chan struct{}, f.cfg.dialConcurrency)
	done := make(chan struct{})
	f.afterDone = done
	f.stopAfter = context.AfterFunc(ctx, func() {
		defer close(done)
		f.closeAll()
	})
	for _, c := range f.conns {
		f.wg.Add(1)
		go f.run(ctx, c, resume, sem)
	}
}

// run is client c's goroutine: sessions until stopped (or, without
// reconnect, until its stream ends).
func (f *fleet) run(ctx context.Context, c *streamConn, resume bool, sem chan struct{}) {
	defer f.wg.Done()
	if c.token == "" {
		tok, err := f.t.Token(f.cfg.orgs[c.org], c.sub, false)
		if err != nil {
			f.noteErr(err)
			f.failed.Add(1)
			return
		}
		c.token = tok
	}
	attempts := 0
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		var once sync.Once
		release := func() { once.Do(func() { <-sem }) }
		welcomed, code, err := f.session(ctx, c, resume, release)
		release()
		if welcomed {
			f.connected.Add(-1)
		}
		if f.stopping.Load() || ctx.Err() != nil {
			return
		}
		if code != 0 {
			f.noteCode(code)
		}
		if err != nil {
			f.noteErr(err)
		}
		if !welcomed {
			attempts++
			if attempts >= maxDialAttempts {
				f.failed.Add(1)
				return
			}
			ctxwait.Sleep(ctx, time.Duration(attempts)*100*time.Millisecond+rand.N(100*time.Millisecond))
			continue
		}
		attempts = 0
		f.dropped.Add(1)
		if !f.cfg.reconnect {
			return
		}
		f.reconnects.Add(1)
		resume = true
		ctxwait.Sleep(ctx, rand.N(100*time.Millisecond))
	}
}

// stop closes every stream and waits for the goroutines. Positions are
// kept, so start(ctx, true) resumes.
func (f *fleet) stop() {
	if f.cancel == nil {
		return
	}
	f.stopping.Store(true)
	if !f.stopAfter() {
		<-f.afterDone // the hook runs (or ran) on its own goroutine
	}
	f.closeAll()
	f.wg.Wait()
	stopPollers(f.pollers)
	f.pollers = nil
	f.cancel()
	f.cancel = nil
}

func (f *fleet) closeAll() {
	f.stopping.Store(true)
	for _, c := range f.conns {
		c.closeConn()
		c.resume()
	}
}

// waitWelcomed waits until every client got a welcome or gave up.
func (f *fleet) waitWelcomed(ctx context.Context, timeout time.Duration) error {
	n := int64(len(f.conns))
	return pollUntil(ctx, timeout, func() bool { return f.welcomes.Load()+f.failed.Load() >= n })
}

// setGoal sets the seq every client of org i must reach.
func (f *fleet) setGoal(i int, seq uint64) {
	f.goals[i].Store(seq)
	for _, c := range f.conns {
		if c.org == i && c.last.Load() >= seq && c.doneAt.Load() == 0 {
			c.doneAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	}
}

// behind counts the clients short of their org's goal.
func (f *fleet) behind() int {
	n := 0
	for _, c := range f.conns {
		if g := f.goals[c.org].Load(); c.last.Load() < g {
			n++
		}
	}
	return n
}

// waitGoals waits until every client reached its org's goal.
func (f *fleet) waitGoals(ctx context.Context, timeout time.Duration) error {
	return pollUntil(ctx, timeout, func() bool { return f.behind() == 0 })
}

// events sums the events received by every client.
func (f *fleet) events() uint64 {
	var n uint64
	for _, c := range f.conns {
		n += c.events.Load()
	}
	return n
}

// seqTotals sums the trackers; call only while stopped.
func (f *fleet) seqTotals() SeqTracker {
	var s SeqTracker
	for _, c := range f.conns {
		s.Missing += c.track.Missing
		s.Gaps += c.track.Gaps
		s.Dups += c.track.Dups
		s.Events += c.track.Events
	}
	return s
}

// finish accounts, per client, for the events up to its org's goal that
// never came; call only while stopped.
func (f *fleet) finish() {
	for _, c := range f.conns {
		c.track.Finish(f.goals[c.org].Load())
	}
}

func (f *fleet) noteCode(code int) {
	f.mu.Lock()
	f.closeCodes[code]++
	f.mu.Unlock()
}

// addrPair matches "127.0.0.2:41234->127.0.0.1:8080" in socket errors.
var addrPair = regexp.MustCompile(`[0-9a-fA-F.:\[\]]+->[0-9a-fA-F.:\[\]]+`)

// maxDistinctErrs caps the error kinds a fleet remembers.
const maxDistinctErrs = 20

func (f *fleet) noteErr(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	// Strip the per-connection addresses so that alike errors group.
	s := addrPair.ReplaceAllString(err.Error(), "ADDR")
	f.mu.Lock()
	if _, ok := f.errs[s]; ok || len(f.errs) < maxDistinctErrs {
		f.errs[s]++
	}
	f.mu.Unlock()
}

// closeCodeCounts returns "code:count" pairs, sorted by code.
func (f *fleet) closeCodeCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.closeCodes))
	for k, v := range f.closeCodes {
		m[fmt.Sprint(k)] = v
	}
	return m
}

// errorSummary lists the errors seen, most frequent first.
func (f *fleet) errorSummary() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	type kv struct {
		s string
		n int
	}
	var all []kv
	for s, n := range f.errs {
		all = append(all, kv{s, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || (all[i].n == all[j].n && all[i].s < all[j].s) })
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = fmt.Sprintf("%d× %s", e.n, e.s)
	}
	return out
}

// pollUntil checks cond every 20 ms until it holds, ctx ends or timeout
// passes (an error naming the timeout).
func pollUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: not done within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
