package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
)

// batchPublisher is a Publisher of cfg's settings with fast retries,
// counting its HTTP requests in rt, closed when t ends.
func batchPublisher(t *testing.T, cfg PublisherConfig) (*Publisher, *countingTransport) {
	t.Helper()
	rt := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	if cfg.NATS == nil {
		cfg.HTTPClient = &http.Client{Transport: rt}
	}
	cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		rt.next.(*http.Transport).CloseIdleConnections()
	})
	return p, rt
}

// waitAll waits for every pending and returns their acks, failing t on an
// error.
func waitAll(t *testing.T, ps []*Pending) []Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), phase)
	defer cancel()
	acks := make([]Ack, len(ps))
	for i, pd := range ps {
		a, err := pd.Wait(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		acks[i] = a
	}
	return acks
}

// checkStoredInOrder checks that org's log holds exactly the events of
// acks, the i-th with data i and acks[i]'s id at seq i+1.
func checkStoredInOrder(t *testing.T, n *testkit.Node, org string, acks []Ack) {
	t.Helper()
	for i, e := range storedEvents(t, n, org, len(acks)) {
		if e.Seq != uint64(i+1) || e.ID != acks[i].ID || string(e.Data) != strconv.Itoa(i) {
			t.Fatalf("seq %d holds id %q data %s; want event %d (id %q)", e.Seq, e.ID, e.Data, i, acks[i].ID)
		}
	}
}

func num(i int) Message { return Message{Topic: "t", Data: json.RawMessage(strconv.Itoa(i))} }

// TestPublisherAsyncOrderAndBatching: events handed over by PublishAsync
// faster than requests go are coalesced (far fewer requests than events),
// and with one request in flight they get seqs in the order of the calls.
func TestPublisherAsyncOrderAndBatching(t *testing.T) {
	n := testkit.StartNode(t, nil)
	p, rt := batchPublisher(t, PublisherConfig{URL: n.BaseURL(), Org: "acme",
		Token: n.Token(t, "acme", "pub", time.Hour, true), MaxBatchEvents: 100})
	const events = 500
	ps := make([]*Pending, events)
	for i := range ps {
		var err error
		if ps[i], err = p.PublishAsync(context.Background(), num(i)); err != nil {
			t.Fatal(err)
		}
	}
	acks := waitAll(t, ps)
	batched := 0
	for i, a := range acks {
		if a.Seq != uint64(i+1) || a.ID != ps[i].ID() || a.Batched > 100 {
			t.Fatalf("event %d: ack %+v", i, a)
		}
		batched = max(batched, a.Batched)
	}
	if reqs := int(rt.n.Load()); reqs > events/10 || batched < 2 {
		t.Fatalf("%d requests for %d events (largest %d): not batched", reqs, events, batched)
	}
	checkStoredInOrder(t, n, "acme", acks)
}

// TestPublisherConcurrentCallers: blocking Publish calls of several
// goroutines share requests; every event is stored once, the seqs are
// 1…N without a hole, and each goroutine's events are in its order.
func TestPublisherConcurrentCallers(t *testing.T) {
	n := testkit.StartNode(t, nil)
	p, rt := batchPublisher(t, PublisherConfig{URL: n.BaseURL(), Org: "acme",
		Token: n.Token(t, "acme", "pub", time.Hour, true), MinBatchEvents: 1})
	const callers, each = 8, 40
	seqs := make([][]uint64, callers)
	var batched atomic.Int32
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				a, err := p.Publish(context.Background(), num(c*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				if a.Batched > 1 {
					batched.Add(1)
				}
				seqs[c] = append(seqs[c], a.Seq)
			}
		})
	}
	wg.Wait()
	var all []uint64
	for c, s := range seqs {
		for i := 1; i < len(s); i++ {
			if s[i] <= s[i-1] {
				t.Fatalf("caller %d: seq %d after %d", c, s[i], s[i-1])
			}
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	testkit.AssertAll(t, all, callers*each)
	if reqs := rt.n.Load(); reqs >= callers*each || batched.Load() == 0 {
		t.Fatalf("%d requests for %d events, %d events batched", reqs, callers*each, batched.Load())
	}
	storedEvents(t, n, "acme", callers*each)
}

// TestPublisherSurvivesRestart: a stream of async publishes goes on while
// the daemon is stopped and started again on the same data dir and
// address. The requests that meet the drain (503), the closed port, or a
// lost answer are retried with their ids: the log holds every event once,
// in the order of the calls.
func TestPublisherSurvivesRestart(t *testing.T) {
	n := testkit.StartNode(t, nil)
	p, _ := batchPublisher(t, PublisherConfig{URL: n.BaseURL(), Org: "acme",
		Token: n.Token(t, "acme", "pub", time.Hour, true), MaxBatchEvents: 10, MaxPending: 40})
	first, err := p.PublishAsync(context.Background(), num(0))
	if err != nil {
		t.Fatal(err)
	}
	waitAll(t, []*Pending{first}) // the stream runs
	var restarted atomic.Bool
	ps := []*Pending{first}
	done := make(chan error, 1)
	go func() {
		after := 0
		for i := 1; after < 100; i++ {
			pd, err := p.PublishAsync(context.Background(), num(i))
			if err != nil {
				done <- err
				return
			}
			ps = append(ps, pd)
			if restarted.Load() {
				after++
			}
		}
		done <- nil
	}()
	n.Stop(t) // with events queued and in flight

	n2 := testkit.StartNode(t, func(c *node.Config) {
		c.DataDir, c.JWTSecret, c.Listen, c.NodeName = n.Config.DataDir, n.Secret, n.Addr(), n.Config.NodeName
	})
	restarted.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	acks := waitAll(t, ps)
	retried := 0
	for i, a := range acks {
		if a.Seq != uint64(i+1) {
			t.Fatalf("event %d: seq %d", i, a.Seq)
		}
		if a.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatalf("no event of %d was retried: the restart missed the stream", len(acks))
	}
	t.Logf("%d events, %d of them retried", len(acks), retried)
	checkStoredInOrder(t, n2, "acme", acks)
}

// TestPublisherRefusalFailsItsRequest: a 4xx fails exactly the events of
// its request, and an event with a topic the client knows to be bad goes
// alone, so its 400 fails no neighbour. The first request is held (its
// token is late) while the others queue behind it, which fixes the batches:
// [e0], [b0 b1 b2] (refused with 401: its token is bad), [x] (400), [c].
func TestPublisherRefusalFailsItsRequest(t *testing.T) {
	n := testkit.StartNode(t, nil)
	good := n.Token(t, "acme", "pub", time.Hour, true)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	p, rt := batchPublisher(t, PublisherConfig{URL: n.BaseURL(), Org: "acme", MinBatchEvents: 1,
		TokenFunc: func(context.Context) (string, error) {
			switch calls.Add(1) {
			case 1:
				close(entered)
				<-release
			case 2:
				return "not-a-jwt", nil
			}
			return good, nil
		}})
	async := func(m Message) *Pending {
		t.Helper()
		pd, err := p.PublishAsync(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return pd
	}
	e0 := async(num(0))
	<-entered
	bs := []*Pending{async(num(-1)), async(num(-2)), async(num(-3))}
	x := async(Message{Topic: "no spaces", Data: json.RawMessage(`0`)})
	c := async(num(1))
	close(release)
	acks := waitAll(t, []*Pending{e0, c})
	refused := func(pd *Pending, status int, code string, batched int) {
		t.Helper()
		_, err := pd.Wait(context.Background())
		var pe *PublishError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPublishRefused) || pe.Status != status || pe.Code != code ||
			pe.Attempts != 1 || len(pe.IDs) != 1 || pe.IDs[0] != pd.ID() || pd.g.res.batched != batched {
			t.Fatalf("err %v (%+v), want %d %s in a request of %d", err, pe, status, code, batched)
		}
	}
	for _, b := range bs {
		refused(b, 401, "invalid_token", 3)
	}
	refused(x, 400, "invalid_topic", 1)
	if acks[0].Seq != 1 || acks[1].Seq != 2 || rt.n.Load() != 4 {
		t.Fatalf("acks %+v after %d requests, want seqs 1, 2 after 4", acks, rt.n.Load())
	}
	checkStoredInOrder(t, n, "acme", acks)
}

// TestPublisherCloseFlushes: Close sends what is queued and returns once
// it is stored; a publish after it is refused at once; a Shutdown whose
// context ends while the daemon cannot be reached gives up the retries.
func TestPublisherCloseFlushes(t *testing.T) {
	n := testkit.StartNode(t, nil)
	p, _ := batchPublisher(t, PublisherConfig{URL: n.BaseURL(), Org: "acme",
		Token: n.Token(t, "acme", "pub", time.Hour, true), MaxBatchEvents: 50, Linger: time.Second})
	ps := make([]*Pending, 120)
	for i := range ps {
		var err error
		if ps[i], err = p.PublishAsync(context.Background(), num(i)); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	for i, pd := range ps {
		select {
		case <-pd.Done():
		default:
			t.Fatalf("event %d pending after Close", i)
		}
	}
	checkStoredInOrder(t, n, "acme", waitAll(t, ps))
	if _, err := p.Publish(context.Background(), num(0)); !errors.Is(err, ErrPublisherClosed) {
		t.Fatalf("publish after Close: %v", err)
	}

	t.Run("shutdown bounded", func(t *testing.T) {
		px := startDropProxy(t, n.Addr(), 1<<30) // every answer is lost
		p, _ := batchPublisher(t, PublisherConfig{URL: px.URL(), Org: "lost",
			Token: n.Token(t, "lost", "pub", time.Hour, true)})
		pd, err := p.PublishAsync(context.Background(), num(0))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("shutdown: %v", err)
		}
		if _, err := pd.Wait(context.Background()); !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("event: %v", err)
		}
	})
}

// TestPublisherNATS: the publisher role's NATS connection carries the same
// publishes: singles coalesced in order, a caller's batch, and a refusal
// decoded from the reply's status header.
func TestPublisherNATS(t *testing.T) {
	n := testkit.StartNode(t, func(c *node.Config) {
		c.NATSListen, c.NATSPublisherPassword = "127.0.0.1:0", "publisher-test-password"
	})
	creds, err := NATSCredentials("publisher:publisher-test-password\n") // as `orgstream nats-creds` prints it
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.NATSURL(), creds)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p, _ := batchPublisher(t, PublisherConfig{NATS: nc, Org: "acme"})
	ps := make([]*Pending, 200)
	for i := range ps {
		if ps[i], err = p.PublishAsync(context.Background(), num(i)); err != nil {
			t.Fatal(err)
		}
	}
	acks := waitAll(t, ps)
	if acks[len(acks)-1].Batched < 2 {
		t.Fatalf("last ack %+v: not batched", acks[len(acks)-1])
	}
	b, err := p.PublishBatch(context.Background(), []Message{num(200), num(201)})
	if err != nil || b.Seqs[0] != 201 || b.Seqs[1] != 202 {
		t.Fatalf("batch %+v, %v", b, err)
	}
	acks = append(acks, Ack{ID: b.IDs[0]}, Ack{ID: b.IDs[1]})
	_, err = p.Publish(context.Background(), Message{Topic: "no spaces", Data: json.RawMessage(`0`)})
	var pe *PublishError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPublishRefused) || pe.Status != 400 || pe.Code != "invalid_topic" {
		t.Fatalf("bad topic: %v", err)
	}
	checkStoredInOrder(t, n, "acme", acks)

	if _, err := NewPublisher(PublisherConfig{NATS: nc, Org: "a.b"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("org with a dot: %v", err)
	}
	for _, bad := range []string{"", "publisher", ":pw", "publisher:"} {
		if _, err := NATSCredentials(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("credentials %q: %v", bad, err)
		}
	}

	// A closed connection ends a publish at once, outcome unknown.
	nc.Close()
	if _, err := p.Publish(context.Background(), num(0)); !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("publish on a closed connection: %v", err)
	}
}

// gaugeTransport counts the requests in flight, and the most at once.
type gaugeTransport struct {
	now, most atomic.Int32
	next      http.RoundTripper
}

func (g *gaugeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := g.now.Add(1)
	defer g.now.Add(-1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	return g.next.RoundTrip(r)
}

// TestPublisherPipelined: with MaxInFlight 4 requests overlap, and every
// event is stored once (the order across requests is the daemon's).
func TestPublisherPipelined(t *testing.T) {
	n := testkit.StartNode(t, nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	g := &gaugeTransport{next: tr}
	p, err := NewPublisher(PublisherConfig{URL: n.BaseURL(), Org: "acme", Token: n.Token(t, "acme", "pub", time.Hour, true),
		HTTPClient: &http.Client{Transport: g}, MaxInFlight: 4, MaxBatchEvents: 10, MinBatchEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ps := make([]*Pending, 200)
	for i := range ps {
		if ps[i], err = p.PublishAsync(context.Background(), num(i)); err != nil {
			t.Fatal(err)
		}
	}
	acks := waitAll(t, ps)
	seqs := make([]uint64, len(acks))
	for i, a := range acks {
		seqs[i] = a.Seq
	}
	slices.Sort(seqs)
	testkit.AssertAll(t, seqs, uint64(len(acks)))
	if g.most.Load() < 2 {
		t.Fatalf("at most %d request in flight", g.most.Load())
	}
	storedEvents(t, n, "acme", len(acks))
}
