package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/orgstream/orgstream/messages"
)

var _ Log = (*JetStreamLog)(nil)

// JetStreamConfig configures the JetStream log.
type JetStreamConfig struct {
	// Conn is the NATS connection to use (embedded or --nats-url). Required.
	// The log does not close it.
	Conn *nats.Conn
	// Retention is how long events stay readable (the stream's MaxAge). Zero
	// means DefaultRetention; JetStream's minimum is 100ms.
	Retention time.Duration
	// MaxEventsPerOrg bounds the retained events per org. Zero means
	// DefaultMaxEventsPerOrg.
	MaxEventsPerOrg int64
	// Replicas is the streams' replication factor. Zero means
	// DefaultReplicas.
	Replicas int
	// Partitions is the number of event streams (partitions.go), 1..64.
	// Zero means DefaultPartitions. The store records it at its first
	// open; opening it with another count is ErrPartitionsChanged.
	Partitions int
	// DedupWindow is how long a draft ID is remembered. Zero means
	// DefaultDedupWindow. It is clamped to Retention (JetStream requires it) and at least 100ms.
	DedupWindow time.Duration
	// RequestTimeout bounds each store request whose context has no
	// deadline. Zero means 5s.
	RequestTimeout time.Duration
	// Logger receives warnings (failed head markers, malformed messages,
	// forged live messages: these sampled, see forgedLogEvery). Nil means
	// zap.NewNop().
	Logger *zap.Logger
	// OnForged is called for each live message a follower refused as
	// forged (log_jetstream_live.go), with the org of the feed, on the
	// log's live dispatcher or the follower's worker: it must not block.
	// Nil means none. The node counts them in its metrics.
	OnForged func(org string)

	// liveBuffer is the capacity of the live channel of the log's
	// followers (liveFeed); zero means liveBufferDefault. Tests make it
	// tiny to make NATS drop live messages.
	liveBuffer int
	// liveQueue bounds the live messages queued behind a follower's worker;
	// zero means followQueueMax.
	liveQueue int
}

// forgedLogEvery and forgedLogFirst sample the warnings about forged live
// messages: the first few in each period are logged, the rest only counted
// (OnForged), so a flood of them is not a flood of log lines.
const (
	forgedLogEvery = 10 * time.Second
	forgedLogFirst = 3
)

func (c *JetStreamConfig) validate() error {
	if c.Conn == nil {
		return errors.New("persistence: JetStreamConfig.Conn is required")
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Retention < 100*time.Millisecond {
		return fmt.Errorf("persistence: retention %v is below JetStream's 100ms minimum", c.Retention)
	}
	if c.MaxEventsPerOrg == 0 {
		c.MaxEventsPerOrg = DefaultMaxEventsPerOrg
	}
	if c.MaxEventsPerOrg < 0 {
		return fmt.Errorf("persistence: MaxEventsPerOrg %d is negative", c.MaxEventsPerOrg)
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("persistence: replicas %d not in 1..5", c.Replicas)
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if err := validPartitions(c.Partitions); err != nil {
		return err
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	c.DedupWindow = max(min(c.DedupWindow, c.Retention), 100*time.Millisecond)
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.liveBuffer <= 0 {
		c.liveBuffer = liveBufferDefault
	}
	if c.liveQueue <= 0 {
		c.liveQueue = followQueueMax
	}
	return nil
}

// partitionConfig is partition i's stream: the events of the orgs that
// PartitionOf puts there, republished to orgstream.live.<org> (the live
// subjects do not name the partition).
func (c *JetStreamConfig) partitionConfig(i int) jetstream.StreamConfig {
	sub := PartitionSubjectPrefix(i)
	return c.eventsStreamConfig(PartitionStream(i),
		"orgstream: per-org event logs, partition "+strconv.Itoa(i)+" ("+sub+"<org>)",
		sub+"*", LivePrefix+"{{wildcard(1)}}")
}

// legacyStreamConfig is the one stream that held every org's events before
// partitions; Open updates it as it always did (a store made before the
// heads stream existed has the marker subjects in it, which this releases)
// before moving its events into the partitions (log_jetstream_upgrade.go).
func (c *JetStreamConfig) legacyStreamConfig() jetstream.StreamConfig {
	sc := c.eventsStreamConfig(StreamName, "orgstream: per-org event logs (orgstream.events.<org>)",
		EventsPrefix+"*", LivePrefix+">")
	sc.RePublish.Source = EventsPrefix + ">"
	// Unused since the head markers moved to their own stream, but
	// JetStream refuses to turn it off on a stream that had it (stores
	// created before), so it stays on.
	sc.AllowMsgTTL = true
	return sc
}

// eventsStreamConfig is a stream of org events on subjects (one token per
// org), with the log's limits, republished to live.
func (c *JetStreamConfig) eventsStreamConfig(name, desc, subjects, live string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              name,
		Description:       desc,
		Subjects:          []string{subjects},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		MaxAge:            c.Retention,
		MaxMsgsPerSubject: c.MaxEventsPerOrg,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		Duplicates:        c.DedupWindow,
		AllowDirect:       true,
		// Batches: consecutive seqs, all or nothing.
		AllowAtomicPublish: true,
		RePublish:          &jetstream.RePublish{Source: subjects, Destination: live},
	}
}

// headsStreamConfig is the stream holding every org's head marker, the
// newest only. It has no MaxAge: nothing in it ever ages out, on a running
// server or at recovery (see log_jetstream_head.go for why the markers do
// not share the events' stream). Its Metadata records the store's epoch and
// partition count (log_jetstream_open.go): meta, nil before they are known.
func (c *JetStreamConfig) headsStreamConfig(meta map[string]string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              HeadsStreamName,
		Description:       "orgstream: per-org head markers (orgstream.heads.<org>), the counter that outlives retention",
		Subjects:          []string{HeadsPrefix + "*"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		AllowDirect:       true,
		Metadata:          storeMetadata(meta),
	}
}

// JetStreamLog is the Log on a JetStream stream (see doc.go and
// log_jetstream_head.go for the layout). Safe for concurrent use.
type JetStreamLog struct {
	nc        *nats.Conn
	cfg       JetStreamConfig
	parts     []partition // the event streams (partitions.go)
	lg        *zap.Logger
	forgedLog *zap.Logger // lg, sampled
	epoch     string
	batches   chan struct{} // bounds concurrent atomic batches (server: 50 per stream)

	markers *markerWriter

	// conflicted holds the orgs whose last Append ended in ErrConflict: the
	// next Head of such an org reads from the stream leaders, since a
	// replica's Direct Get may still show the head the append lost against
	// (the writer would then lose again and again).
	conflicted sync.Map // org → struct{}

	// floors holds, per org whose log has a hole (a message deleted from
	// its middle), where its contiguous tail starts (see
	// log_jetstream_holes.go).
	floors sync.Map // org → floor

	// leaderChanges counts the partition streams' leader elections: only
	// the leader republishes, so live messages may be lost around one and
	// followers then catch up from the log.
	leaderChanges atomic.Uint64
	advisories    *nats.Subscription

	ctx    context.Context // ends on Close
	cancel context.CancelFunc

	// feed carries the followers' live messages (log_jetstream_feed.go).
	feed *liveFeed

	// checkPlace makes every append check that its message is the first
	// of the org's subject after the head it expected (a replicated stream;
	// log_jetstream_collide.go). expectSeam is a test seam (export_test.go):
	// it sees the first message of each append, its expectation set, before
	// it is sent (a test makes the server accept a stale expectation).
	checkPlace bool
	expectSeam func(*nats.Msg)

	mu     sync.Mutex
	closed bool
}

// leaderElectedSubject carries JetStream's advisories for new stream
// leaders; the log counts those of its partition streams.
const leaderElectedSubject = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.*"

// partitionElection tells whether a leader-elected advisory's subject names
// a partition's stream.
func partitionElection(subject string) bool {
	stream, ok := strings.CutPrefix(subject, leaderElectedSubject[:len(leaderElectedSubject)-1])
	return ok && strings.HasPrefix(stream, partitionStreamPrefix)
}

// maxConcurrentBatches keeps a node well under the server's 50 in-flight
// atomic batches per stream.
const maxConcurrentBatches = 8

// OpenJetStream creates the streams (the partitions' events, head markers)
// or updates their limits (retention, max events, dedup window, replicas),
// moves the events of a store written before partitions into them
// (log_jetstream_upgrade.go), and returns the log. While JetStream is not
// ready yet (no responders, no meta leader) it retries until ctx ends.
func OpenJetStream(ctx context.Context, cfg JetStreamConfig) (*JetStreamLog, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("persistence: jetstream: %w", err)
	}
	lctx, lcancel := context.WithCancel(context.Background())
	l := &JetStreamLog{
		nc:    cfg.Conn,
		cfg:   cfg,
		parts: newPartitions(cfg.Partitions),
		lg:    cfg.Logger,
		forgedLog: cfg.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, forgedLogEvery, forgedLogFirst, 0)
		})),
		batches:    make(chan struct{}, maxConcurrentBatches),
		ctx:        lctx,
		cancel:     lcancel,
		checkPlace: cfg.Replicas > 1,
	}
	if l.epoch, err = l.openStreams(ctx, js); err != nil {
		lcancel()
		return nil, err
	}
	l.feed = newLiveFeed(l, cfg.liveBuffer, cfg.liveQueue)
	l.advisories, err = cfg.Conn.Subscribe(leaderElectedSubject, func(m *nats.Msg) {
		if partitionElection(m.Subject) {
			l.leaderChanges.Add(1)
		}
	})
	if err != nil {
		lcancel()
		return nil, transportErr("subscribe leader advisories", err)
	}
	if l.markers, err = newMarkerWriter(l); err != nil {
		_ = l.advisories.Unsubscribe()
		lcancel()
		return nil, err
	}
	l.markers.start()
	l.feed.start()
	return l, nil
}

// createTimeout bounds one create-or-update of a stream. In a cluster that
// is forming, a request sent before JetStream's meta leader or the
// stream's first leader exists is never answered; short attempts retried
// soon find them (a fresh 3-node cluster: ready in 6s with 2s attempts, 15s
// with 5s attempts, 45s with 15s attempts).
const createTimeout = 2 * time.Second

// openWarnEvery is how often a start that keeps waiting for JetStream says
// so (with the last error) at Warn: a cluster that cannot form (too few
// nodes for --replicas, wrong --routes) must not wait in silence.
const openWarnEvery = 10 * time.Second

// ensureStream creates the stream or updates its configuration, retrying
// while JetStream is not ready until ctx ends (retryOpen).
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg *JetStreamConfig, scfg jetstream.StreamConfig) (*jetstream.StreamInfo, error) {
	var info *jetstream.StreamInfo
	err := retryOpen(ctx, cfg, scfg.Name, scfg.Replicas, "create or update", func(rctx context.Context) error {
		s, err := js.CreateOrUpdateStream(rctx, scfg)
		if err == nil {
			info = s.CachedInfo()
		}
		return err
	})
	return info, err
}

// retryOpen runs op (an open step on stream name) until it succeeds, fails
// for good, or ctx ends, retrying while JetStream is not ready. Each attempt
// may take twice as long as the one before, from createTimeout up to
// RequestTimeout, so that a slow but working meta leader is waited for.
func retryOpen(ctx context.Context, cfg *JetStreamConfig, name string, replicas int, what string, op func(context.Context) error) error {
	attempt := min(cfg.RequestTimeout, createTimeout)
	start, warned := time.Now(), time.Now()
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		rctx, cancel := context.WithTimeout(ctx, attempt)
		err := op(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if !retryableOpen(err) {
			return fmt.Errorf("persistence: %s stream %s: %w", what, name, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s stream %s: %w", ErrUnavailable, what, name, err)
		}
		attempt = min(2*attempt, max(cfg.RequestTimeout, createTimeout))
		if time.Since(warned) >= openWarnEvery {
			warned = time.Now()
			cfg.Logger.Warn("still waiting for JetStream to take the log's stream "+
				"(a cluster needs at least --replicas nodes joined by --routes)",
				zap.String("stream", name), zap.Int("replicas", replicas),
				zap.Duration("waiting", time.Since(start).Round(time.Second)), zap.Error(err))
		} else {
			cfg.Logger.Debug("jetstream not ready, retrying", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s stream %s: %w", ErrUnavailable, what, name, err)
		case <-time.After(backoff):
		}
	}
}

// codeNoSuitablePeers is JetStream's "no suitable peers for placement".
const codeNoSuitablePeers jetstream.ErrorCode = 10005

// retryableOpen reports errors that mean "JetStream not ready yet".
func retryableOpen(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		return true
	case errors.As(err, &apiErr):
		// 10005: no suitable peers for placement, while the meta group
		// does not know every node of a forming cluster yet.
		return apiErr.Code == 503 || apiErr.Code == 408 || apiErr.Code == 500 ||
			apiErr.ErrorCode == codeNoSuitablePeers
	}
	return false
}

// epochOf names a store generation by the creation time of its newer
// stream: stable across restarts, the same on every node, new when the store
// is wiped. The heads stream counts because the counters live there: should
// it be lost (deleted, or absent in a store made before it existed, whose
// markers are not carried over), orgs whose events all aged out start again
// at 1, which is only allowed under a new epoch.
func epochOf(events, heads time.Time) string {
	created := events
	if heads.After(created) {
		created = heads
	}
	return "e-" + strconv.FormatInt(created.UnixNano(), 36)
}

// Epoch implements Log.
func (l *JetStreamLog) Epoch() string { return l.epoch }

// Retention implements Log.
func (l *JetStreamLog) Retention() time.Duration { return l.cfg.Retention }

// Close stops every follower (and the goroutines of the live feed) and the
// head-marker writer (after it wrote the pending markers, for at most 2s or
// RequestTimeout), and flushes what the connection still buffers. Later calls return ErrClosed from every method.
// Safe to call twice.
func (l *JetStreamLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	for _, f := range l.feed.close() {
		f.Stop()
	}
	l.feed.wait()
	l.cancel() // ends the repairer's reads
	l.markers.stop()
	_ = l.advisories.Unsubscribe()
	if err := l.nc.FlushTimeout(l.cfg.RequestTimeout); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("persistence: flush on close: %w", err)
	}
	return nil
}

// check refuses calls on a closed log or with a bad org.
func (l *JetStreamLog) check(org string) error {
	if l.isClosed() {
		return ErrClosed
	}
	if !messages.ValidOrg(org) {
		return fmt.Errorf("%w: %q", ErrInvalidOrg, org)
	}
	return nil
}

func (l *JetStreamLog) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Head implements Log. It reads the head marker, then the last retained
// event, and returns the larger seq (or the head this node's lazy marker
// writer still has to write, when higher: log_jetstream_head.go); when the event is ahead of the marker
// (a crash or a lost marker write right after an append) it rewrites the
// marker. After an ErrConflict from Append for the org it reads both from
// the stream leaders (see conflicted), otherwise with Direct Gets.
func (l *JetStreamLog) Head(ctx context.Context, org string) (Head, error) {
	if err := l.check(org); err != nil {
		return Head{}, err
	}
	_, accurate := l.conflicted.LoadAndDelete(org)
	return l.head(ctx, org, accurate)
}

func (l *JetStreamLog) head(ctx context.Context, org string, accurate bool) (Head, error) {
	mark, err := l.markerSeq(ctx, org, accurate)
	if err != nil {
		return Head{}, err
	}
	seq, rev, err := l.lastEvent(ctx, org, accurate)
	if err != nil {
		return Head{}, err
	}
	if seq > mark {
		l.markers.write(org, seq)
	}
	return Head{Seq: max(seq, mark, l.markers.wanted(org)), Rev: rev}, nil
}

// LeaderHead implements Log: the marker and the last event are read with
// the Message Get that only the streams' leaders answer.
func (l *JetStreamLog) LeaderHead(ctx context.Context, org string) (uint64, error) {
	if err := l.check(org); err != nil {
		return 0, err
	}
	h, err := l.head(ctx, org, true)
	return h.Seq, err
}

// Bounds implements Log. Its reads are Direct Gets, which the nearest
// replica may answer; first is the start of the contiguous tail, found as
// log_jetstream_holes.go explains.
func (l *JetStreamLog) Bounds(ctx context.Context, org string) (first, head uint64, err error) {
	if err := l.check(org); err != nil {
		return 0, 0, err
	}
	// The marker, then the last event, then the first with the count of
	// events after it, then the count after the last event: read in this
	// order, events appended or aged out meanwhile can make a whole log
	// look holed (contiguousFirst then tells), never hide a hole.
	mark, err := l.markerSeq(ctx, org, false)
	if err != nil {
		return 0, 0, err
	}
	last, lastRev, err := l.lastEvent(ctx, org, false)
	if err != nil {
		return 0, 0, err
	}
	if last > mark {
		l.markers.write(org, last)
	}
	head = max(mark, last, l.markers.wanted(org))
	if lastRev == 0 {
		return head + 1, head, nil
	}
	ev, _, after, ok, err := l.countedEvent(ctx, org, 0)
	if err != nil {
		return 0, 0, err
	}
	if !ok || ev.Seq > head {
		return head + 1, head, nil
	}
	if _, seen := l.floors.Load(org); !seen && last == head {
		// An append between the two counts fails the check: try again
		// before asking the leader.
		for try := 0; ; try++ {
			later, err := l.afterLast(ctx, org, last, lastRev)
			if errors.Is(err, errLastMoved) {
				break
			}
			if err != nil {
				return 0, 0, err
			}
			if after >= later && ev.Seq+(after-later) >= last {
				return ev.Seq, head, nil
			}
			if try == 2 {
				break
			}
			if ev, _, after, ok, err = l.countedEvent(ctx, org, 0); err != nil {
				return 0, 0, err
			}
			if !ok || ev.Seq > head {
				return head + 1, head, nil
			}
		}
	}
	first, err = l.contiguousFirst(ctx, org, ev.Seq, head, last, lastRev)
	if err != nil {
		return 0, 0, err
	}
	return first, head, nil
}
