package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
)

// The security property of scoped delivery (PROTOCOL.md "Scoped delivery"):
// an event with "to" reaching a stream it must not reach, or an event
// outside a stream's topics, is a defect. Streams of random users with
// random token topics and random narrowing queries follow an org while a
// publisher sends single events and batches with random topics and random
// "to" lists; each stream drops its connection at random points and resumes
// with last_seq (on a random node of the cluster). Every stream's received
// seqs must be EXACTLY what its scope allows, in order, without duplicate:
// live, caught up from the window, and replayed from the log (the window is
// kept small so that resumes reach the log).
func TestScopedDeliveryProperty(t *testing.T) {
	t.Parallel()
	nodes := []*testkit.Node{testkit.StartNode(t, smallWindow)}
	runScopedProperty(t, nodes, 12, 300)
}

// TestScopedDeliveryPropertyCluster is the same property on three nodes:
// streams resume on any node, the publisher publishes on any node.
func TestScopedDeliveryPropertyCluster(t *testing.T) {
	t.Parallel()
	const k = 3
	nodes := testkit.StartNodes(t, k, embeddedCluster(freePorts(t, k), func(_ int, c *node.Config) { smallWindow(c) }))
	runScopedProperty(t, nodes, 9, 200)
}

func smallWindow(c *node.Config) { c.WindowSize = 16 }

// The universe the random scopes and events are drawn from.
var (
	propTopics   = []string{"a.x", "a.y", "b.x", "b.y.z", "c", "d.x"}
	propPatterns = []string{"a.*", "b.>", "c", "a.x", "*.x", ">", "b.y.*", "d.*"}
	propUsers    = []string{"u0", "u1", "u2", "u3", "u4", "u5"} // u5 holds no stream
)

// endTopic is the topic of the last event, which every stream's scope
// allows: a stream is done once it received it.
const endTopic = "end"

type propStream struct {
	user                string
	tokenTopics, query  []string
	scope               messages.Scope
	token               string
	mu                  sync.Mutex
	got                 []uint64
	topics              map[uint64]string
	dials, resumedDials int
}

type propEvent struct {
	topic string
	to    []string
}

func pick[T any](rng *rand.Rand, from []T, n int) []T {
	idx := rng.Perm(len(from))[:n]
	out := make([]T, n)
	for i, j := range idx {
		out[i] = from[j]
	}
	return out
}

func newPropStream(t *testing.T, rng *rand.Rand, secret []byte, org string, i int) *propStream {
	s := &propStream{user: propUsers[i%(len(propUsers)-1)], topics: map[uint64]string{}}
	if rng.IntN(3) > 0 {
		s.tokenTopics = append(pick(rng, propPatterns, 1+rng.IntN(3)), endTopic)
	}
	if rng.IntN(2) == 0 {
		cands := propPatterns
		if s.tokenTopics != nil {
			cands = nil
			for _, c := range append(slices.Clone(propPatterns), propTopics...) {
				if messages.Covers(s.tokenTopics, c) {
					cands = append(cands, c)
				}
			}
		}
		if len(cands) > 0 {
			s.query = append(pick(rng, cands, 1+rng.IntN(min(2, len(cands)))), endTopic)
		}
	}
	s.scope = messages.Scope{User: s.user, Topics: s.tokenTopics}
	if s.query != nil {
		s.scope.Topics = s.query
	}
	s.token = testkit.TokenTopics(t, secret, org, s.user, time.Hour, s.tokenTopics)
	return s
}

// follow runs s's sessions until it received the end event. The first
// session is fresh and is opened before anything is published (welcomed is
// called once it is welcomed), so the stream must see every allowed seq.
func (s *propStream) follow(ctx context.Context, rng *rand.Rand, nodes []*testkit.Node, welcomed func()) error {
	var last uint64
	epoch := ""
	first := true
	for {
		n := nodes[rng.IntN(len(nodes))]
		q := url.Values{}
		if s.query != nil {
			q.Set("topics", strings.Join(s.query, ","))
		}
		if epoch != "" {
			q.Set("last_seq", fmt.Sprint(last))
			q.Set("epoch", epoch)
		}
		c, _, err := testkit.DialErr(ctx, n.StreamURL(s.token, q), nil)
		if err != nil {
			return fmt.Errorf("%s dial: %w", s.user, err)
		}
		w, err := c.ReadWelcome(ctx)
		if err != nil {
			c.Close()
			return fmt.Errorf("%s welcome: %w", s.user, err)
		}
		s.dials++
		if w.Scoped != (s.scope.Topics != nil) {
			c.Close()
			return fmt.Errorf("%s: welcome %s, scoped should be %v", s.user, w.Raw, s.scope.Topics != nil)
		}
		if epoch != "" {
			if !w.Resumed || w.Replay == nil || w.Replay.From != last+1 || w.Replay.To != w.Head {
				c.Close()
				return fmt.Errorf("%s: resume after %d: welcome %s", s.user, last, w.Raw)
			}
			s.resumedDials++
		} else if w.Resumed || w.Head != 0 {
			c.Close()
			return fmt.Errorf("%s: first welcome %s", s.user, w.Raw)
		}
		epoch = w.Epoch
		if first {
			first = false
			welcomed()
		}
		for k := 1 + rng.IntN(12); k > 0; k-- {
			fr, err := c.ReadFrame(ctx)
			if err != nil {
				c.Close()
				return fmt.Errorf("%s after %d: %w", s.user, last, err)
			}
			if fr.Type != "event" {
				c.Close()
				return fmt.Errorf("%s after %d: %s", s.user, last, fr.Raw)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(fr.Raw, &keys); err != nil || keys["to"] != nil {
				c.Close()
				return fmt.Errorf("%s: event frame %s carries to (or is not JSON)", s.user, fr.Raw)
			}
			if fr.Seq <= last {
				c.Close()
				return fmt.Errorf("%s: seq %d after %d", s.user, fr.Seq, last)
			}
			s.mu.Lock()
			s.got = append(s.got, fr.Seq)
			s.topics[fr.Seq] = fr.Topic
			s.mu.Unlock()
			last = fr.Seq
			if fr.Topic == endTopic { // the last event: every scope allows it
				c.Close()
				return nil
			}
		}
		c.Close()
	}
}

// publishProp publishes events singly and in batches with random topics and
// "to" lists on random nodes, then the end event; it returns every event by
// seq (index 0 unused).
func publishProp(t *testing.T, ctx context.Context, rng *rand.Rand, nodes []*testkit.Node, org, pub string, total int) []propEvent {
	evs := []propEvent{{}}
	post := func(batch []propEvent) {
		t.Helper()
		parts := make([]string, len(batch))
		for i, e := range batch {
			to := ""
			if e.to != nil {
				b, _ := json.Marshal(e.to)
				to = `,"to":` + string(b)
			}
			parts[i] = fmt.Sprintf(`{"topic":%q,"data":{"i":%d}%s}`, e.topic, len(evs)+i, to)
		}
		body := parts[0]
		if len(batch) > 1 || rng.IntN(4) == 0 {
			body = `{"events":[` + strings.Join(parts, ",") + `]}`
		}
		n := nodes[rng.IntN(len(nodes))]
		st, resp, err := postRetrying(ctx, n.BaseURL(), org, pub, body, nil)
		if err != nil || st != http.StatusCreated {
			t.Fatalf("publish: %d %s %v", st, resp, err)
		}
		var a testkit.SeqAnswer
		if err := json.Unmarshal(resp, &a); err != nil {
			t.Fatal(err)
		}
		seqs := a.Seqs
		if seqs == nil {
			seqs = []uint64{a.Seq}
		}
		for i, s := range seqs {
			if s != uint64(len(evs)) {
				t.Fatalf("seq %d, want %d", s, len(evs))
			}
			evs = append(evs, batch[i])
		}
	}
	for len(evs)-1 < total {
		batch := make([]propEvent, 1+rng.IntN(3)*rng.IntN(5))
		for i := range batch {
			batch[i].topic = propTopics[rng.IntN(len(propTopics))]
			if rng.IntN(2) == 0 {
				batch[i].to = pick(rng, propUsers, 1+rng.IntN(3))
			}
		}
		post(batch)
	}
	post([]propEvent{{topic: endTopic}})
	return evs
}

func runScopedProperty(t *testing.T, nodes []*testkit.Node, streams, total int) {
	ctx := ctxFor(t, phase)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const org = "scoped"
	secret := nodes[0].Secret
	pub := testkit.Token(t, secret, org, "backend", time.Hour, true)

	ss := make([]*propStream, streams)
	for i := range ss {
		ss[i] = newPropStream(t, rng, secret, org, i)
	}
	var ready sync.WaitGroup
	ready.Add(streams)
	var wg sync.WaitGroup
	errs := make([]error, streams)
	for i, s := range ss {
		srng := rand.New(rand.NewPCG(seed, uint64(i+1)))
		wg.Go(func() { errs[i] = s.follow(ctx, srng, nodes, ready.Done) })
	}
	ready.Wait()
	start := time.Now()
	evs := publishProp(t, ctx, rng, nodes, org, pub, total)
	t.Logf("published in %v", time.Since(start))
	wg.Wait()
	t.Logf("streams done after %v", time.Since(start))
	_, epoch := nodes[0].Head(t, org)

	withTo, delivered := 0, 0
	for _, e := range evs[1:] {
		if e.to != nil {
			withTo++
		}
	}
	for i, s := range ss {
		if errs[i] != nil {
			t.Errorf("stream %d (%s, token %q, query %q): %v", i, s.user, s.tokenTopics, s.query, errs[i])
			continue
		}
		var want []uint64
		for seq := 1; seq < len(evs); seq++ {
			if s.scope.Allows(evs[seq].topic, evs[seq].to) {
				want = append(want, uint64(seq))
			}
		}
		if !slices.Equal(s.got, want) {
			t.Errorf("stream %d (%s, token %q, query %q): got %v\nwant %v", i, s.user, s.tokenTopics, s.query, s.got, want)
		}
		// A resume from the start replays the whole stretch, far beyond
		// the window: from the log, filtered before encoding.
		if got := s.replayAll(ctx, t, nodes[i%len(nodes)], epoch); !slices.Equal(got, want) {
			t.Errorf("stream %d (%s, token %q, query %q): replayed from 0: %v\nwant %v", i, s.user, s.tokenTopics, s.query, got, want)
		}
		for seq, topic := range s.topics {
			if topic != evs[seq].topic {
				t.Errorf("stream %d: seq %d has topic %q, published %q", i, seq, topic, evs[seq].topic)
			}
		}
		delivered += len(s.got)
		if s.resumedDials == 0 {
			t.Errorf("stream %d never resumed", i)
		}
	}
	t.Logf("%d events (%d with to), %d streams, %d deliveries", len(evs)-1, withTo, streams, delivered)
}

// replayAll resumes s after seq 0 and returns the seqs received up to the
// end event.
func (s *propStream) replayAll(ctx context.Context, t *testing.T, n *testkit.Node, epoch string) []uint64 {
	q := testkit.ResumeQuery(0, epoch)
	if s.query != nil {
		q.Set("topics", strings.Join(s.query, ","))
	}
	c := testkit.Dial(ctx, t, n.StreamURL(s.token, q), nil)
	defer c.Close()
	if w := c.ExpectWelcome(ctx); !w.Resumed || w.Replay == nil || w.Replay.From != 1 {
		t.Fatalf("resume from 0: %s", w.Raw)
	}
	var got []uint64
	for {
		fr := c.ExpectFrame(ctx, "event")
		got = append(got, fr.Seq)
		if fr.Topic == endTopic {
			return got
		}
	}
}
