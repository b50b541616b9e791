package soak

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/orgstream/orgstream/internal/testkit"
)

// Subscriber settings.
const (
	// dialTimeout bounds a dial and its welcome.
	dialTimeout = 5 * time.Second
	// hopMin and hopMax bound a session: the subscriber then leaves for
	// another node on its own, resuming there.
	hopMin = 2 * time.Second
	hopMax = 10 * time.Second
)

// subscriber follows one org: it connects to a node drawn at random,
// resumes with last_seq and epoch, reads for a while and hops to another
// node, or hops as soon as its connection ends or goes silent for idle (a
// paused node). Its first connection asks last_seq=0: a replay from the
// start of the org. It records every event frame, unchecked: the checker
// judges.
type subscriber struct {
	nodes *nodes
	token string
	rng   *rand.Rand
	// idle is how long a session may go without a frame: events flow all
	// the time, so silence means a dead or paused node.
	idle time.Duration

	mu    sync.Mutex
	log   SubscriberLog
	last  uint64
	epoch string
}

// run follows the org until ctx ends.
func (s *subscriber) run(ctx context.Context) {
	node := s.rng.IntN(s.nodes.count())
	for ctx.Err() == nil {
		s.session(ctx, node)
		if n := s.nodes.count(); n > 1 {
			node = (node + 1 + s.rng.IntN(n-1)) % n // another node
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(20+s.rng.IntN(100)) * time.Millisecond):
		}
	}
}

// lastSeq is the last seq received.
func (s *subscriber) lastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// stayed reports whether the subscriber has not been reset.
func (s *subscriber) stayed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Stayed
}

// result returns its log; call once run has returned.
func (s *subscriber) result() *SubscriberLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log
	return &l
}

// session is one connection to node.
func (s *subscriber) session(ctx context.Context, node int) {
	s.mu.Lock()
	q := url.Values{"access_token": {s.token}, "last_seq": {strconv.FormatUint(s.last, 10)}}
	if s.epoch != "" {
		q.Set("epoch", s.epoch)
	}
	s.log.Dials++
	s.mu.Unlock()
	u := "ws" + strings.TrimPrefix(s.nodes.url(node), "http") + "/v2/realtime/stream?" + q.Encode()
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, _, err := testkit.DialErr(dctx, u, nil)
	if err != nil {
		s.ended("dial")
		return
	}
	defer c.Close()
	w, err := c.ReadWelcome(dctx)
	if err != nil {
		s.ended("welcome")
		return
	}
	if !w.Resumed {
		// A reset must follow: the subscriber leaves its org's sequence.
		r, err := c.ReadFrame(dctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.log.Stayed = false
		s.log.Resets = append(s.log.Resets, string(r.Raw))
		s.last, s.epoch = r.Head, w.Epoch
		s.mu.Unlock()
	} else {
		s.mu.Lock()
		s.epoch = w.Epoch
		s.mu.Unlock()
	}
	end := time.Now().Add(hopMin + time.Duration(s.rng.Int64N(int64(hopMax-hopMin))))
	for time.Now().Before(end) {
		rctx, rcancel := context.WithTimeout(ctx, s.idle)
		f, err := c.ReadFrame(rctx)
		rcancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return // the campaign's end
		case websocket.CloseStatus(err) != -1:
			var ce websocket.CloseError
			_ = errors.As(err, &ce)
			s.ended(strconv.Itoa(int(ce.Code)) + " " + ce.Reason)
			return
		case errors.Is(err, context.DeadlineExceeded):
			s.ended("idle")
			return
		default:
			s.ended("error")
			return
		}
		if f.Type != "event" {
			continue // not a delivery (none other is expected mid-stream)
		}
		s.mu.Lock()
		s.log.Deliveries = append(s.log.Deliveries, Delivery{Seq: f.Seq, ID: f.ID, Data: string(f.Data)})
		if f.Seq > s.last {
			s.last = f.Seq
		}
		s.mu.Unlock()
	}
	s.ended("hop")
	_ = c.Conn.Close(websocket.StatusNormalClosure, "hop")
}

// ended counts a session end.
func (s *subscriber) ended(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log.Ends == nil {
		s.log.Ends = map[string]int{}
	}
	s.log.Ends[why]++
}
