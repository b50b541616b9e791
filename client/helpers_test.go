package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// phase bounds one phase of an integration test: generous, the box is
// shared and -race is slow.
const phase = 60 * time.Second

// recorder collects what a Client's callbacks report.
type recorder struct {
	mu       sync.Mutex
	events   []Event // Data copied
	welcomes []Welcome
	resets   []Reset
	gaps     [][2]uint64
	closes   []closeRec
	states   []State
}

type closeRec struct {
	code   int
	reason string
	err    error
}

// hook sets the callbacks of cfg to record into r (keeping an OnEvent
// already set, called after recording).
func (r *recorder) hook(cfg *Config) {
	next := cfg.OnEvent
	cfg.OnEvent = func(e Event) {
		e.Data = append(json.RawMessage(nil), e.Data...)
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
		if next != nil {
			next(e)
		}
	}
	cfg.OnWelcome = func(w Welcome) { r.mu.Lock(); r.welcomes = append(r.welcomes, w); r.mu.Unlock() }
	cfg.OnReset = func(x Reset) { r.mu.Lock(); r.resets = append(r.resets, x); r.mu.Unlock() }
	cfg.OnGap = func(e, g uint64) { r.mu.Lock(); r.gaps = append(r.gaps, [2]uint64{e, g}); r.mu.Unlock() }
	cfg.OnClose = func(code int, reason string, err error) {
		r.mu.Lock()
		r.closes = append(r.closes, closeRec{code, reason, err})
		r.mu.Unlock()
	}
	cfg.OnState = func(s State) { r.mu.Lock(); r.states = append(r.states, s); r.mu.Unlock() }
}

func (r *recorder) seqs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := make([]uint64, len(r.events))
	for i, e := range r.events {
		s[i] = e.Seq
	}
	return s
}

func (r *recorder) lastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return 0
	}
	return r.events[len(r.events)-1].Seq
}

func (r *recorder) welcomeCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.welcomes)
}

func (r *recorder) closeCodes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c []int
	for _, x := range r.closes {
		c = append(c, x.code)
	}
	return c
}

func (r *recorder) sawClose(code int) bool {
	for _, c := range r.closeCodes() {
		if c == code {
			return true
		}
	}
	return false
}

// running is a Client run by a test.
type running struct {
	*Client
	rec    *recorder
	result chan error
	cancel context.CancelFunc
}

// start runs a client for cfg (callbacks recorded) until the test ends;
// prep, if given, adjusts the Client before Run.
func start(t *testing.T, cfg Config, prep ...func(*Client)) *running {
	t.Helper()
	rec := &recorder{}
	rec.hook(&cfg)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prep {
		p(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Client: c, rec: rec, result: make(chan error, 1), cancel: cancel}
	go func() { r.result <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.Done():
		case <-time.After(phase):
			t.Errorf("Run did not return after its context ended")
		}
	})
	return r
}

// wait returns Run's result, failing t if it does not come within phase.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.result:
		return err
	case <-time.After(phase):
		t.Fatalf("Run did not return")
		return nil
	}
}

// waitFor polls cond every 10ms until it holds or phase passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(phase)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", phase, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nodeConfig is the client config for org/user on n with a one-hour token.
func nodeConfig(t *testing.T, n *testkit.Node, org, user string) Config {
	return Config{
		URL:        testkit.StreamURL(n.BaseURL(), "", nil),
		Token:      n.Token(t, org, user, time.Hour, false),
		BackoffMin: 20 * time.Millisecond,
		BackoffMax: 500 * time.Millisecond,
	}
}

// publisher keeps publishing small batches to org until stopped, and
// returns the last acknowledged seq.
type publisher struct {
	stop, done chan struct{}
	mu         sync.Mutex
	last       uint64
	err        error
}

func publishInBackground(t *testing.T, base, org, token string) *publisher {
	p := &publisher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), phase)
			st, b, err := testkit.Post(ctx, base, org, token, testkit.BatchBody("bg", 1+i%4))
			cancel()
			var a testkit.SeqAnswer
			if err == nil && st != http.StatusCreated {
				err = fmt.Errorf("status %d: %s", st, b)
			}
			if err == nil {
				err = json.Unmarshal(b, &a)
			}
			p.mu.Lock()
			if err != nil {
				p.err = err
			} else {
				p.last = a.Seqs[len(a.Seqs)-1]
			}
			p.mu.Unlock()
			if err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { p.halt() })
	return p
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// finish stops the publisher and returns the last acknowledged seq.
func (p *publisher) finish(t *testing.T) uint64 {
	t.Helper()
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatalf("publisher: %v", p.err)
	}
	return p.last
}

// checkStream fails t unless the client received exactly from..to, with
// no gap or duplicate reported.
func checkStream(t *testing.T, r *running, from, to uint64) {
	t.Helper()
	testkit.AssertRange(t, r.rec.seqs(), from, to)
	st := r.Stats()
	if st.Gaps != 0 || len(r.rec.gaps) != 0 {
		t.Fatalf("gaps reported: %v (stats %+v)", r.rec.gaps, st)
	}
	if st.Events != to-from+1 {
		t.Fatalf("stats %+v, want %d events", st, to-from+1)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
