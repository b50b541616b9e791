package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/actors"
	"github.com/orgstream/orgstream/internal/ctxwait"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/presence"
	"github.com/orgstream/orgstream/tickets"
	"github.com/orgstream/orgstream/transport"
	"github.com/orgstream/orgstream/transport/auth"
)

// PublisherPasswordFile is the file in the data dir that holds the
// generated password of the NATS publisher role.
const PublisherPasswordFile = "nats-publisher-password"

// ErrDraining is the readiness error while the node shuts down. It wraps
// transport.ErrDraining, so that /readyz, new streams and publishes answer
// 503 draining (not not_ready) like the NATS publish path.
var ErrDraining = fmt.Errorf("node: %w", transport.ErrDraining)

// ErrStarting is the readiness error until the log is open.
var ErrStarting = errors.New("node: starting: opening the log")

// ErrStoreUnreachable is the readiness error while NATS is disconnected.
var ErrStoreUnreachable = errors.New("node: store unreachable")

// ErrJetStreamDown is the readiness cause while the embedded server's
// JetStream is shut down: nats-server shuts it down for good when a write
// finds the disk full ("JetStream out of resources, will be DISABLED") and
// starts it again only with the process. The node still serves streams and
// its publishes still reach the stream leaders on other nodes, but it holds
// no replica: a cluster with one more node down loses its quorum, and a
// single node takes no writes. /readyz answers 503 log_unavailable so that
// an operator (or a supervisor's readiness probe) frees space and restarts
// the node.
var ErrJetStreamDown = errors.New("node: the embedded JetStream is shut down (out of disk space?); free space, then restart the node")

// Node is one running orgstream daemon: the NATS connection (and embedded
// server), the log, the actors and the HTTP/WebSocket server. Start builds
// it; Shutdown stops every part it started, in reverse order.
type Node struct {
	cfg      Config
	log      *zap.Logger
	metrics  *metrics.Metrics
	embedded *persistence.Embedded
	nc       *nats.Conn
	jlog     *persistence.JetStreamLog
	probe    *logProbe
	balancer *persistence.LeaderBalancer      // nil on R1: nothing to move
	hub      atomic.Pointer[actors.Hub]       // set once the log is open
	presence atomic.Pointer[presence.Tracker] // set before the hub, unless NoPresence
	tickets  atomic.Pointer[tickets.Store]    // set before the hub
	server   *transport.Server
	verifier *auth.Verifier
	natsURL  string

	draining atomic.Bool
	jsDown   atomic.Bool // the embedded JetStream was seen shut down (logged once)
	once     sync.Once
	err      error
}

// Start builds and starts a node. It returns once the node serves on
// cfg.Listen and is ready, or fails with everything it started stopped.
//
// HTTP is served from the moment NATS is up, before the log is open (in a
// cluster that waits for a quorum of nodes): /healthz answers 200 and
// /readyz, streams and publishes 503 not_ready until then, so an
// orchestrator can tell a starting node from a dead one. The node joins the
// NATS publish queue group only once the log is open.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, metrics: metrics.New()}
	if err := n.start(ctx); err != nil {
		_ = n.stop(context.Background())
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	cfg := &n.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("node: data dir: %w", err)
	}
	var err error
	if n.verifier, err = n.newVerifier(); err != nil {
		return err
	}
	if err := n.connectNATS(); err != nil {
		return err
	}
	n.server, err = transport.New(transport.Config{
		Listen:         cfg.Listen,
		Verifier:       n.verifier,
		MetricsListen:  cfg.MetricsListen,
		AllowedOrigins: cfg.AllowedOrigins,
		Publisher:      n,
		Streams:        n,
		History:        n,
		Readiness:      n,
		Presence:       n,
		Tickets:        nodeTickets{n},
		Metrics:        n.metrics,
		Logger:         n.log.Named("transport"),
		NATS:           n.nc,
		Dev:            cfg.Dev,
	})
	if err != nil {
		return fmt.Errorf("node: transport: %w", err)
	}
	if err := n.server.Start(); err != nil {
		return fmt.Errorf("node: listen: %w", err)
	}
	n.log.Info("HTTP listening, opening the log", zap.String("http", "http://"+n.server.Addr()))
	jlog, err := persistence.OpenJetStream(ctx, persistence.JetStreamConfig{
		Conn:            n.nc,
		Retention:       cfg.Retention,
		MaxEventsPerOrg: cfg.RetentionMaxEvents,
		Replicas:        cfg.Replicas,
		Partitions:      cfg.Partitions,
		Logger:          n.log.Named("log"),
		OnForged:        func(string) { n.metrics.LiveForged.Add(1) },
	})
	if err != nil {
		return fmt.Errorf("node: open log: %w", err)
	}
	n.jlog = jlog
	n.probe = startLogProbe(jlog.Status, cfg.LogProbeInterval, n.metrics, n.log.Named("log"))
	n.probe.waitFirst(ctx)
	if cfg.Replicas > 1 {
		// Spread the log streams' leaders over the nodes (each node moves
		// only the streams it leads; persistence/leaders.go).
		n.balancer, err = persistence.StartLeaderBalancer(persistence.LeaderBalancerConfig{
			Conn: n.nc, Streams: jlog.Streams(), Logger: n.log.Named("log"),
			OnMove: func(string, string, string) { n.metrics.LeaderMoves.Add(1) },
		})
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	var hubLog persistence.Log = jlog
	if cfg.wrapHubLog != nil {
		hubLog = cfg.wrapHubLog(jlog)
	}
	var counts actors.PresenceCounts // a nil interface when presence is off
	if !cfg.NoPresence {
		tr, err := presence.Start(ctx, presence.Config{
			Conn:     n.nc,
			Node:     cfg.NodeName,
			Replicas: cfg.Replicas,
			Logger:   n.log.Named("presence"),
			OnChange: n.presenceChanged,
		})
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		n.presence.Store(tr)
		counts = tr
	}
	ts, err := tickets.Open(ctx, tickets.Config{Conn: n.nc, Replicas: cfg.Replicas, TTL: cfg.TicketTTL})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.tickets.Store(ts)
	hub, err := actors.NewHub(actors.Config{
		Log:             hubLog,
		Metrics:         n.metrics,
		Logger:          n.log.Named("actors"),
		MaxQueueBytes:   cfg.MaxQueueBytes,
		WindowBytes:     cfg.WindowBytes,
		PingInterval:    cfg.PingInterval,
		MaxConnsPerUser: cfg.MaxConnsPerUser,
		MaxConnsPerOrg:  cfg.MaxConnsPerOrg,
		WindowSize:      cfg.WindowSize,
		OrgIdleGrace:    cfg.OrgIdleGrace,
		Presence:        counts,
	})
	if err != nil {
		return fmt.Errorf("node: actors: %w", err)
	}
	n.hub.Store(hub)
	if err := n.server.StartNATS(); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.log.Info("orgstream ready", zap.String("http", "http://"+n.server.Addr()),
		zap.String("nats", n.natsURL), zap.String("epoch", jlog.Epoch()),
		zap.String("node", cfg.NodeName), zap.String("data_dir", cfg.DataDir))
	return nil
}

// connectNATS starts the embedded server (the default) or dials --nats-url.
func (n *Node) connectNATS() error {
	cfg := &n.cfg
	opts := []nats.Option{
		nats.Name("orgstream " + cfg.NodeName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if cfg.NATSURL != "" {
		return n.dialNATS(opts)
	}
	pubPass := cfg.NATSPublisherPassword
	if pubPass == "" && cfg.NATSListen != persistence.ListenOff {
		b, err := auth.LoadOrCreateSecret(filepath.Join(cfg.DataDir, PublisherPasswordFile))
		if err != nil {
			return fmt.Errorf("node: nats publisher password: %w", err)
		}
		pubPass = string(b)
		if cfg.ClusterListen != "" {
			n.log.Warn("the NATS publisher password was generated in this node's data dir: " +
				"publishers can use it on this node only; give every node the same --nats-publisher-password")
		}
	}
	emb, err := persistence.StartEmbedded(persistence.EmbeddedConfig{
		DataDir:           cfg.DataDir,
		Listen:            cfg.NATSListen,
		ListenFallback:    cfg.NATSListenFallback,
		NodeName:          cfg.NodeName,
		ClusterListen:     cfg.ClusterListen,
		ClusterAdvertise:  cfg.ClusterAdvertise,
		ClusterSecret:     cfg.ClusterSecret,
		Routes:            cfg.Routes,
		PublisherPassword: pubPass,
		TLSCert:           cfg.NATSTLSCert,
		TLSKey:            cfg.NATSTLSKey,
		TLSCA:             cfg.NATSTLSCA,
		SyncAlways:        cfg.SyncAlways,
		Logger:            n.log.Named("nats"),
	})
	if err != nil {
		return fmt.Errorf("node: embedded nats: %w", err)
	}
	n.embedded = emb
	n.natsURL = emb.ClientURL()
	if n.natsURL != "" {
		n.log.Info("embedded NATS listening", zap.String("url", n.natsURL),
			zap.String("publisher_user", persistence.PublisherUser), zap.Bool("tls", cfg.NATSTLSCert != ""))
	}
	nc, err := emb.Connect(opts...)
	if err != nil {
		return fmt.Errorf("node: connect embedded nats: %w", err)
	}
	n.nc = nc
	return nil
}

// dialNATS connects to the external cluster of --nats-url, with the
// credentials of the URL or of NATSCredsFile, and the daemon's inbox
// prefix (the least permissions of docs/CLUSTER.md grant only that one).
func (n *Node) dialNATS(opts []nats.Option) error {
	cfg := &n.cfg
	opts = append(opts, nats.CustomInboxPrefix(persistence.DaemonInboxPrefix))
	if cfg.NATSCredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCredsFile))
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if cfg.NATSTLSCert != "" || cfg.NATSTLSKey != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return fmt.Errorf("node: connect %s: %w", redactURL(cfg.NATSURL), err)
	}
	n.nc, n.natsURL = nc, redactURL(cfg.NATSURL)
	return nil
}

// Ready is nil when the node accepts streams and publishes and its log
// takes writes. While the log cannot take writes (a leader election, a lost
// quorum) it wraps transport.ErrLogUnavailable: /readyz answers 503, while
// streams are still accepted and publishes reach Publish (which refuses
// them at once only while the events stream has no leader).
func (n *Node) Ready() error {
	if n.draining.Load() {
		return ErrDraining
	}
	hub := n.hub.Load()
	if hub == nil {
		return ErrStarting
	}
	if n.nc == nil || !n.nc.IsConnected() {
		return ErrStoreUnreachable
	}
	if err := hub.Ready(); err != nil {
		return err
	}
	if n.embedded != nil && !n.embedded.Server().JetStreamEnabled() {
		if n.jsDown.CompareAndSwap(false, true) {
			n.log.Error("the embedded JetStream is shut down (nats-server does this when the disk is full); free space in the data dir, then restart the node")
		}
		return fmt.Errorf("%w: %w", transport.ErrLogUnavailable, ErrJetStreamDown)
	}
	if err := n.probe.Err(); err != nil {
		return fmt.Errorf("%w: %w", transport.ErrLogUnavailable, err)
	}
	return nil
}

// Addr is the HTTP address the node listens on (resolved when port 0).
func (n *Node) Addr() string { return n.server.Addr() }

// MetricsAddr is the address of Config.MetricsListen (resolved when port
// 0), or "" when the metrics are served on Addr.
func (n *Node) MetricsAddr() string { return n.server.MetricsAddr() }

// NATSURL is the client URL of the embedded NATS server ("" when none
// listens), or the --nats-url in use (credentials redacted).
func (n *Node) NATSURL() string { return n.natsURL }

// Epoch is the log's epoch.
func (n *Node) Epoch() string { return n.jlog.Epoch() }

// Metrics exposes the node's counters (for tests and the harness).
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// Publish implements transport.Publisher with the hub (the transport asks
// Ready first, which is ErrStarting until the hub exists).
func (n *Node) Publish(ctx context.Context, org string, drafts []messages.Draft) ([]uint64, bool, error) {
	hub := n.hub.Load()
	if hub == nil {
		return nil, false, fmt.Errorf("%w: %w", persistence.ErrUnavailable, ErrStarting)
	}
	stream := n.jlog.StreamOf(org)
	deadline := time.Now().Add(unavailableGrace)
	for wait := 25 * time.Millisecond; ; wait = min(2*wait, 400*time.Millisecond) {
		var err error
		// A stream without a leader takes no write: the append would
		// wait for its timeout and end with the outcome unknown. Send
		// nothing while the probe saw none and a fresh look agrees.
		if n.probe.refuses(stream) && !n.hasLeader(ctx, stream) {
			err = fmt.Errorf("%w: %w", transport.ErrLogUnavailable, n.probe.Err())
		} else {
			seqs, allDup, perr := hub.Publish(ctx, org, drafts)
			if !nothingStored(perr) {
				return seqs, allDup, publishErr(perr)
			}
			err = perr
		}
		// Nothing was stored: waiting out a leader's election (a failover,
		// or the balancer moving a partition's leader) is safe, and turns
		// a move into a latency blip rather than a 503.
		if time.Now().Add(wait).After(deadline) || !ctxwait.Sleep(ctx, wait) {
			return nil, false, publishErr(err)
		}
	}
}

// unavailableGrace bounds how long a publish waits for its partition to
// take writes again (a leader election: a step-down of the balancer takes
// well under a second, a failover 5–8 s) before it answers 503 with nothing
// stored. It stays well below the publish timeout (10 s).
const unavailableGrace = 3 * time.Second

// nothingStored reports a publish error after which nothing was stored, nor
// will be (Hub.Publish's contract), and that a new attempt may cure: not a
// refusal of the drafts, not a drain.
func nothingStored(err error) bool {
	return err != nil && errors.Is(err, persistence.ErrUnavailable) &&
		!errors.Is(err, persistence.ErrOutcomeUnknown) && !errors.Is(err, actors.ErrDraining)
}

// hasLeader asks stream's leader afresh (the probe's view may be a second
// old): true once it has one.
func (n *Node) hasLeader(ctx context.Context, stream string) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	leader, err := n.jlog.StreamLeader(ctx, stream)
	return err == nil && leader != ""
}

// Open implements transport.Streams with the hub.
func (n *Node) Open(conn net.Conn, s transport.Stream) {
	hub := n.hub.Load()
	if hub == nil {
		_ = conn.Close() // unreachable: the stream was checked with Ready
		return
	}
	hub.Open(conn, s)
}

// Presence implements transport.Presence with the presence tracker.
func (n *Node) Presence(org string) (messages.Presence, error) {
	if n.cfg.NoPresence {
		return messages.Presence{}, transport.ErrPresenceDisabled
	}
	tr := n.presence.Load()
	if tr == nil {
		return messages.Presence{}, ErrStarting
	}
	return tr.Presence(org)
}

// presenceChanged takes a presence change to the org's presence=true
// streams on this node (none until the hub exists).
func (n *Node) presenceChanged(c presence.Change) {
	if hub := n.hub.Load(); hub != nil {
		hub.PresenceChanged(c.Org, c.User, c.Online)
	}
}

// History reads a page of org's events for the history endpoint (see
// actors.Hub.History).
func (n *Node) History(ctx context.Context, org string, after uint64, limit int, scope messages.Scope) (messages.HistoryPage, error) {
	hub := n.hub.Load()
	if hub == nil {
		return messages.HistoryPage{}, fmt.Errorf("%w: %w", persistence.ErrUnavailable, ErrStarting)
	}
	return hub.History(ctx, org, after, limit, scope)
}

// Shutdown drains the node: readiness goes 503, new streams and publishes are
// refused, open streams are closed with 1001 spread over DrainPeriod (or until
// ctx ends), the log is flushed and every part is stopped. Safe to call twice.
func (n *Node) Shutdown(ctx context.Context) error {
	n.once.Do(func() { n.err = n.stop(ctx) })
	return n.err
}

func (n *Node) stop(ctx context.Context) error {
	n.draining.Store(true)
	var errs []error
	if n.server != nil {
		// NATS publishes go to the other nodes from now on.
		if err := n.server.StopNATS(); err != nil {
			errs = append(errs, fmt.Errorf("node: %w", err))
		}
	}
	hub := n.hub.Load()
	if hub != nil {
		n.log.Info("draining", zap.Duration("period", n.cfg.DrainPeriod))
		if err := hub.Drain(ctx, n.cfg.DrainPeriod); err != nil {
			errs = append(errs, fmt.Errorf("node: drain: %w", err))
		}
	}
	if n.server != nil {
		if err := n.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: transport: %w", err))
		}
	}
	if hub != nil {
		if err := hub.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: actors: %w", err))
		}
	}
	if tr := n.presence.Load(); tr != nil {
		// The streams are closed: its entries go, and the others drop
		// this node at once rather than when its heartbeat goes stale.
		tr.Stop(ctx)
	}
	if n.verifier != nil {
		n.verifier.Close()
	}
	if n.probe != nil {
		n.probe.stop()
	}
	if n.balancer != nil {
		n.balancer.Close()
	}
	if n.jlog != nil {
		if err := n.jlog.Close(); err != nil {
			errs = append(errs, fmt.Errorf("node: log: %w", err))
		}
	}
	if n.nc != nil {
		if err := n.nc.FlushTimeout(2 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			n.log.Warn("flush nats", zap.Error(err))
		}
		n.nc.Close()
	}
	if n.embedded != nil {
		n.embedded.Shutdown()
	}
	n.log.Info("stopped")
	return errors.Join(errs...)
}

// redactURL drops credentials from a NATS URL before it is logged.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "REDACTED@" + u[at+1:]
		}
	}
	return u
}
