package presence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
)

// Defaults of Config (docs/CLUSTER.md "Presence" explains them).
const (
	// DefaultDebounce is the shortest time between two writes of this
	// node's entries: a connect storm costs at most one write per org per
	// DefaultDebounce.
	DefaultDebounce = 250 * time.Millisecond
	// DefaultHeartbeat is how often a node publishes its heartbeat.
	DefaultHeartbeat = time.Second
	// DefaultStale is how long a node's heartbeat may go unseen before the
	// others drop its entries (and purge them): its TTL.
	DefaultStale = 3 * time.Second
	// DefaultOpTimeout bounds one write to the bucket.
	DefaultOpTimeout = 2 * time.Second
	// markerTTL is how long the bucket keeps the marker of a removed key
	// (where the server supports per-message TTLs), so that removed keys
	// do not pile up over restarts.
	markerTTL = time.Minute
	// deadTTL is how long a node dropped as dead is remembered: an entry
	// of it that arrives late (written before it died, delivered after) is
	// purged again rather than shown.
	deadTTL = time.Minute
	// beatQueue bounds the heartbeats waiting for the watcher; past it
	// they are dropped (the next comes a Heartbeat later).
	beatQueue = 1024
)

// ErrStopped is returned by Presence after Stop.
var ErrStopped = errors.New("presence: stopped")

// Config configures a Tracker.
type Config struct {
	// Conn is the daemon's NATS connection; JetStream must be reachable.
	// Required. The Tracker does not close it.
	Conn *nats.Conn
	// Node is this node's name, written in its heartbeat for operators.
	Node string
	// Replicas is the bucket's replication factor (--replicas). Zero
	// means 1.
	Replicas int
	// Logger receives failures (Warn, once per outage). Nil means none.
	Logger *zap.Logger
	// OnChange is told of every user going online or offline in any org,
	// in the order this node saw them, from one goroutine. It must not
	// block. Nil means nobody is told.
	OnChange func(Change)
	// Debounce, Heartbeat, Stale and OpTimeout: zero means DefaultDebounce,
	// DefaultHeartbeat, DefaultStale and DefaultOpTimeout.
	Debounce, Heartbeat, Stale, OpTimeout time.Duration
}

func (c *Config) validate() error {
	if c.Conn == nil {
		return errors.New("presence: Config.Conn is required")
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.OnChange == nil {
		c.OnChange = func(Change) {}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Debounce, DefaultDebounce)
	def(&c.Heartbeat, DefaultHeartbeat)
	def(&c.Stale, DefaultStale)
	def(&c.OpTimeout, DefaultOpTimeout)
	if c.Stale <= c.Heartbeat {
		return fmt.Errorf("presence: Stale %v must be longer than Heartbeat %v", c.Stale, c.Heartbeat)
	}
	return nil
}

// Tracker is this node's part of cluster presence. It writes the node's
// per-org user counts (UserStreams) to the bucket, debounced, and publishes
// a heartbeat on core NATS; it watches the whole bucket to know every
// node's counts (Presence) and tells OnChange of users going online or
// offline. Nodes whose heartbeat went stale are dropped and their entries
// purged. Its methods are safe for concurrent use.
type Tracker struct {
	cfg  Config
	log  *zap.Logger
	inst string
	kv   jetstream.KeyValue
	// markers is true when the bucket keeps removal markers for markerTTL
	// only (the server supports per-message TTLs).
	markers bool
	hbValue []byte

	lmu   sync.Mutex
	local map[string]map[string]int // org → user → streams on this node
	dirty map[string]struct{}       // orgs whose entry must be written
	purge map[string][]string       // stale instance → its orgs, to purge
	// written holds the orgs with an entry of this node in the bucket;
	// only the writer goroutine uses it (and Stop, after it ended).
	written map[string]bool
	wake    chan struct{}

	vmu  sync.Mutex
	view *view
	seen map[string]time.Time // instance → when its heartbeat was last seen
	// dead holds the instances dropped as stale or gone, until deadTTL.
	dead map[string]time.Time

	beats    chan beat // heartbeats for the watcher
	beatSub  *nats.Subscription
	watcher  jetstream.KeyWatcher
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
	failing  atomic.Bool // a write failed; logged once until one works
	// leave is false for a stop without a clean leave (tests: a node
	// killed with kill -9).
	leave bool
}

// Start opens (creating it if needed) the presence bucket, writes this
// node's heartbeat and returns once the watcher has read every node's
// entries. It retries the bucket until ctx ends: a cluster that is forming
// answers late.
func Start(ctx context.Context, cfg Config) (*Tracker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("presence: jetstream: %w", err)
	}
	t := &Tracker{
		cfg: cfg, log: cfg.Logger, inst: nuid.Next(),
		local: map[string]map[string]int{}, dirty: map[string]struct{}{}, purge: map[string][]string{},
		written: map[string]bool{},
		wake:    make(chan struct{}, 1), view: newView(), seen: map[string]time.Time{},
		dead: map[string]time.Time{}, beats: make(chan beat, beatQueue),
		stop: make(chan struct{}), leave: true,
	}
	t.hbValue = encodeHeartbeat(cfg.Node)
	if err := t.openBucket(ctx, js); err != nil {
		return nil, err
	}
	t.beatSub, err = cfg.Conn.Subscribe(persistence.PresencePrefix+">", t.onBeat)
	if err != nil {
		return nil, fmt.Errorf("presence: subscribe to heartbeats: %w", err)
	}
	if err := t.beat(); err != nil {
		_ = t.beatSub.Unsubscribe()
		return nil, fmt.Errorf("presence: first heartbeat: %w", err)
	}
	if t.watcher, err = t.watchAll(ctx); err != nil {
		_ = t.beatSub.Unsubscribe()
		return nil, err
	}
	synced := make(chan struct{})
	t.wg.Add(2)
	go t.watch(synced)
	go t.write()
	select {
	case <-synced:
		return t, nil
	case <-ctx.Done():
		t.leave = false
		t.Stop(context.Background())
		return nil, fmt.Errorf("presence: reading the bucket: %w", ctx.Err())
	}
}

// watchAll starts the bucket's watcher, retrying until ctx ends like
// openBucket: during a partition or a leader election the consumer's
// creation times out (seen: a node restarted behind a partition exited
// with "presence: watch: context deadline exceeded"). The watcher's own
// context is not ctx, which only bounds the start.
func (t *Tracker) watchAll(ctx context.Context) (jetstream.KeyWatcher, error) {
	for {
		w, err := t.kv.WatchAll(context.Background())
		if err == nil {
			return w, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("presence: watch: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// openBucket creates or updates the bucket, retrying short attempts until
// ctx ends. It asks for removal markers that expire (LimitMarkerTTL) and
// falls back to a bucket without them where the server cannot.
func (t *Tracker) openBucket(ctx context.Context, js jetstream.JetStream) error {
	kcfg := jetstream.KeyValueConfig{
		Bucket:      persistence.PresenceBucket,
		Description: "orgstream presence: per-node user counts per org",
		History:     1,
		Storage:     jetstream.MemoryStorage,
		Replicas:    t.cfg.Replicas,
	}
	t.markers = true
	for {
		c := kcfg
		if t.markers {
			c.LimitMarkerTTL = markerTTL
		}
		actx, cancel := context.WithTimeout(ctx, t.cfg.OpTimeout)
		kv, err := js.CreateOrUpdateKeyValue(actx, c)
		cancel()
		if err == nil {
			t.kv = kv
			return nil
		}
		if t.markers && errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
			t.markers = false
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("presence: bucket %s: %w (last error: %w)", persistence.PresenceBucket, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// UserStreams records that user has n open streams of org on this node
// (actors.PresenceCounts). It only marks the org's entry for the writer.
func (t *Tracker) UserStreams(org, user string, n int) {
	t.lmu.Lock()
	users := t.local[org]
	if n > 0 {
		if users == nil {
			users = map[string]int{}
			t.local[org] = users
		}
		users[user] = n
	} else if users != nil {
		delete(users, user)
		if len(users) == 0 {
			delete(t.local, org)
		}
	}
	t.dirty[org] = struct{}{}
	t.lmu.Unlock()
	t.signal()
}

func (t *Tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Presence is org's presence across the cluster as this node last saw it.
func (t *Tracker) Presence(org string) (messages.Presence, error) {
	select {
	case <-t.stop:
		return messages.Presence{}, ErrStopped
	default:
	}
	t.vmu.Lock()
	defer t.vmu.Unlock()
	return t.view.presence(org), nil
}

// Stop ends the tracker. With a clean leave (always, but in tests) it says
// so on the heartbeat subject, so the others drop this node at once, and
// removes its entries. Safe to call twice; ctx bounds the leave.
func (t *Tracker) Stop(ctx context.Context) {
	t.stopOnce.Do(func() {
		close(t.stop)
		_ = t.beatSub.Unsubscribe()
		_ = t.watcher.Stop()
		t.wg.Wait()
		if t.leave {
			t.leaveBucket(ctx)
		}
	})
}
