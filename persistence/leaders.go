package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// LeaderBalancerConfig configures a LeaderBalancer.
type LeaderBalancerConfig struct {
	// Conn is the daemon's connection. Required; the balancer does not
	// close it.
	Conn *nats.Conn
	// Streams are the streams whose leaders are spread (the log's: see
	// JetStreamLog.Streams).
	Streams []string
	// Self is the server whose streams this balancer may move. Empty
	// means the server Conn is connected to, read at every round: the
	// embedded server itself, or the server of an external cluster the
	// daemon is connected to now.
	Self string
	// Interval is the time between two rounds while every stream is
	// settled. Zero means 10s. While a stream is not (no leader, a replica
	// offline or catching up) or right after a move, rounds come every
	// Interval/5; a leader election seen on the advisories brings one
	// within settleDelay.
	Interval time.Duration
	// RequestTimeout bounds each request. Zero means 5s.
	RequestTimeout time.Duration
	// Logger gets an Info line per move. Nil means zap.NewNop().
	Logger *zap.Logger
	// OnMove is called after each accepted step-down (the node counts
	// them in its metrics). Nil means none. It must not block.
	OnMove func(stream, from, to string)
}

// settleDelay is how long after a leader election the next round waits:
// the new leader's stream info shows its replicas' state only after its
// first heartbeats (jittered up to twice as much, so that the servers
// that saw the same advisory do not all ask at once). A variable so that
// the package's tests can shorten it before they start a balancer.
var settleDelay = time.Second

// LeaderBalancer spreads the leaders of a set of replicated streams within
// ±1 over the servers holding their replicas. One runs on every node; each
// only ever steps down streams its own server leads (planMove tells why
// that is enough and cannot fight), one per round, with JetStream's leader
// step-down and the least loaded current replica as preferred leader.
//
// Moving a leader costs a short election on the stream (appends wait or
// are retried, nothing acknowledged is lost: a Raft leader transfer hands
// over only to a replica that has every committed entry), which is why it
// moves one stream at a time and only when the counts differ by two or
// more.
type LeaderBalancer struct {
	cfg  LeaderBalancerConfig
	lg   *zap.Logger
	kick chan struct{}
	subs []*nats.Subscription

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// StartLeaderBalancer starts the balancer's goroutine; Close stops it. Its
// first round comes after settleDelay.
func StartLeaderBalancer(cfg LeaderBalancerConfig) (*LeaderBalancer, error) {
	if cfg.Conn == nil {
		return nil, errors.New("persistence: LeaderBalancerConfig.Conn is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	b := &LeaderBalancer{cfg: cfg, lg: cfg.Logger, kick: make(chan struct{}, 1)}
	for _, s := range cfg.Streams {
		sub, err := cfg.Conn.Subscribe(leaderElectedPrefix+s, func(*nats.Msg) {
			select {
			case b.kick <- struct{}{}:
			default:
			}
		})
		if err != nil {
			b.unsubscribe()
			return nil, transportErr("subscribe leader advisories of "+s, err)
		}
		b.subs = append(b.subs, sub)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Go(func() { b.run(ctx) })
	return b, nil
}

// leaderElectedPrefix + stream is the subject of JetStream's advisory for
// the stream's new leader (the daemon role may subscribe to it).
const leaderElectedPrefix = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED."

// Close stops the balancer and waits for its goroutine. Safe to call twice.
func (b *LeaderBalancer) Close() {
	b.once.Do(func() {
		b.unsubscribe()
		b.cancel()
		b.wg.Wait()
	})
}

func (b *LeaderBalancer) unsubscribe() {
	for _, s := range b.subs {
		_ = s.Unsubscribe()
	}
}

func (b *LeaderBalancer) run(ctx context.Context) {
	t := time.NewTimer(jitter(settleDelay))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
			// An election: look again once the new leader has settled
			// (Go 1.23 timers: Reset needs no drain).
			t.Reset(jitter(settleDelay))
			continue
		case <-t.C:
		}
		next := b.cfg.Interval
		if !b.round(ctx) {
			next /= 5
		}
		t.Reset(jitter(next))
	}
}

// jitter is d plus up to d more, at random.
func jitter(d time.Duration) time.Duration { return d + rand.N(d) }

// round reads every stream's placement and steps down at most one of
// self's. It reports whether all looked settled and nothing moved.
func (b *LeaderBalancer) round(ctx context.Context) (settled bool) {
	self := b.cfg.Self
	if self == "" {
		self = b.cfg.Conn.ConnectedServerName()
	}
	ps := make([]placement, 0, len(b.cfg.Streams))
	settled = true
	for _, s := range b.cfg.Streams {
		p, err := b.placement(ctx, s)
		if err != nil {
			// A stream without a leader or that did not answer: plan
			// nothing on a partial view (its leader is not counted).
			b.lg.Debug("leader balancer: no placement", zap.String("stream", s), zap.Error(err))
			return false
		}
		settled = settled && p.settled()
		ps = append(ps, p)
	}
	mv, ok := planMove(self, ps)
	if !ok {
		return settled
	}
	if err := b.stepDown(ctx, mv); err != nil {
		b.lg.Info("leader balancer: step-down refused", zap.String("stream", mv.stream),
			zap.String("to", mv.to), zap.Error(err))
		return false
	}
	b.lg.Info("moved a log stream's leader to spread the leaders over the nodes",
		zap.String("stream", mv.stream), zap.String("from", mv.from), zap.String("to", mv.to),
		zap.Int("from_leads", mv.fromLeads), zap.Int("to_leads", mv.toLeads))
	if b.cfg.OnMove != nil {
		b.cfg.OnMove(mv.stream, mv.from, mv.to)
	}
	return false
}

// placement asks for one stream's info. In a cluster its leader answers,
// and its view of the replicas is the one that counts (current = caught
// up with it).
func (b *LeaderBalancer) placement(ctx context.Context, stream string) (placement, error) {
	c, err := streamClusterOf(ctx, b.cfg.Conn, stream, b.cfg.RequestTimeout)
	if err != nil {
		return placement{}, err
	}
	if c == nil || c.Leader == "" {
		return placement{}, fmt.Errorf("%w (%s)", ErrNoLeader, stream)
	}
	p := placement{stream: stream, leader: c.Leader}
	for _, r := range c.Replicas {
		p.peers = append(p.peers, peer{name: r.Name, current: r.Current, offline: r.Offline})
	}
	return p, nil
}

// stepDown asks the stream's leader to hand over to mv.to. JetStream
// refuses when mv.to is not a replica or already leads, and when the stream
// or the meta group has no leader; a preferred replica that turns out not
// to be healthy makes the leader pick another one (nats-server's
// raft.StepDown), which the next round sees.
func (b *LeaderBalancer) stepDown(ctx context.Context, mv move) error {
	body, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": mv.to}})
	if err != nil {
		return fmt.Errorf("persistence: step-down request: %w", err)
	}
	m := nats.NewMsg(stepDownPrefix + mv.stream)
	m.Data = body
	resp, err := request(ctx, b.cfg.Conn, m, b.cfg.RequestTimeout)
	if err != nil {
		return transportErr("step down "+mv.stream, err)
	}
	var ans struct {
		Success bool      `json:"success"`
		Error   *apiError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &ans); err != nil {
		return fmt.Errorf("%w: step down %s: bad answer: %w", ErrUnavailable, mv.stream, err)
	}
	if ans.Error != nil {
		return fmt.Errorf("persistence: step down %s: %w", mv.stream, ans.Error)
	}
	if !ans.Success {
		return fmt.Errorf("persistence: step down %s: not done", mv.stream)
	}
	return nil
}

// Streams are the log's streams, the ones whose leaders a LeaderBalancer
// spreads, in the order Status reports them (the metrics' log.streams): the
// partitions' streams, then the head markers' stream.
func (l *JetStreamLog) Streams() []string {
	names := make([]string, 0, len(l.parts)+1)
	for i := range l.parts {
		names = append(names, l.parts[i].stream)
	}
	return append(names, HeadsStreamName)
}
