package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/internal/heapcap"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/persistence"
)

const serveShort = "run the daemon (HTTP + WebSocket + embedded NATS)"

const serveExtra = `Runs one orgstream node: the HTTP API and WebSocket stream on --listen, an
embedded NATS server with JetStream on --data-dir (unless --nats-url), and
prints how to mint a token, connect and publish. SIGINT/SIGTERM drain the node
(clients are closed with 1001 over --drain-period) and exit 0.`

// shutdownGrace is added to the drain period to bound the whole shutdown.
const shutdownGrace = 10 * time.Second

// heapcapMinHeadroom is the least garbage the heap may hold above its live
// data: with a small --window-bytes, a headroom that small would make the
// collector run after every few allocations.
const heapcapMinHeadroom = 32 << 20

type serveOptions struct {
	secret          secretFlags
	keys            keyFlags
	listen          string
	metricsListen   string // resolved to the bound address once the node runs
	retention       time.Duration
	retentionMax    int64
	natsURL         string
	natsListen      string
	natsListenSet   bool // --nats-listen or its env var was given
	nats            natsAuthFlags
	allowedOrigins  []string
	maxConnsPerUser int
	maxConnsPerOrg  int
	nodeName        string
	clusterListen   string
	clusterAdvert   string
	clusterSecret   string
	routes          []string
	replicas        int
	partitions      int
	pingInterval    time.Duration
	drainPeriod     time.Duration
	maxQueueBytes   int
	windowSize      int
	windowBytes     int
	presence        bool
	orgIdleGrace    time.Duration
	syncAlways      bool
	dev             bool
	logLevel        string
	logFormat       string
	pprofListen     string
}

func newServeFlags(o *serveOptions) *flagSet {
	f := newFlagSet("serve", "Run the orgstream daemon.")
	f.String(&o.listen, "listen", node.DefaultListen, "ADDR", "HTTP + WebSocket address (port 0 picks a free one)", checkHostPort)
	f.String(&o.metricsListen, "metrics-listen", "", "ADDR", "serve /metrics and /v2/realtime/metrics on this address only (--listen then answers them 404)", checkHostPort)
	f.setDefaultText("metrics-listen", "empty = on --listen")
	o.secret.define(f)
	o.keys.define(f)
	f.Duration(&o.retention, "retention", node.DefaultRetention, "how long an org's events stay replayable")
	f.Int64(&o.retentionMax, "retention-max-events", node.DefaultRetentionMaxEvents, 1, "most events retained per org")
	f.String(&o.natsURL, "nats-url", "", "URL", "use an existing NATS server/cluster (comma-separated URLs) instead of the embedded one", checkNATSURLs)
	f.setDefaultText("nats-url", "empty = embedded NATS server with JetStream")
	f.String(&o.natsListen, "nats-listen", node.DefaultNATSListen, "ADDR", `client address of the embedded NATS server, for backend publishers; port 0 picks a free one, "off" opens none`, checkNATSListen)
	o.nats.define(f)
	f.List(&o.allowedOrigins, "allowed-origins", []string{"*"}, "comma-separated Origin values allowed on the stream (403 otherwise); requests without Origin are allowed", nil)
	f.Int(&o.maxConnsPerUser, "max-conns-per-user", node.DefaultMaxConnsPerUser, 0, "open streams per (org, user); one more is closed with 4029; 0 = no limit")
	f.Int(&o.maxConnsPerOrg, "max-conns-per-org", 0, 0, "open streams per org; 0 = no limit")
	f.String(&o.nodeName, "node-name", "", "NAME", "unique name of this node (also the NATS server name)", nil)
	f.setDefaultText("node-name", "the host name")
	f.String(&o.clusterListen, "cluster-listen", "", "ADDR", "route address of the embedded NATS server, e.g. 127.0.0.1:6222", checkHostPort)
	f.setDefaultText("cluster-listen", "empty = not clustered")
	f.String(&o.clusterAdvert, "cluster-advertise", "", "ADDR", "route address the other nodes learn for this node (behind NAT, in a container, or through a proxy); needs --cluster-listen", checkAdvertise)
	f.setDefaultText("cluster-advertise", "empty = --cluster-listen's address")
	f.String(&o.clusterSecret, "cluster-secret", "", "SECRET", "shared secret that authenticates the routes between nodes; required with --cluster-listen (prefer the env var: flags show in ps)", nil)
	f.List(&o.routes, "routes", nil, "comma-separated route URLs of the other nodes, e.g. nats://127.0.0.1:6223,nats://127.0.0.1:6224", checkURL)
	f.Int(&o.replicas, "replicas", node.DefaultReplicas, 1, "replication factor of the log (3 in a 3-node cluster)")
	f.IntRange(&o.partitions, "partitions", node.DefaultPartitions, 1, persistence.MaxPartitions, "event streams of the log, whose leaders spread over the nodes; fixed when the data dir is made (another value later refuses to start)")
	f.Duration(&o.pingInterval, "ping-interval", node.DefaultPingInterval, "WebSocket ping period; a connection that answers none for two periods is closed")
	f.Duration(&o.drainPeriod, "drain-period", node.DefaultDrainPeriod, "on shutdown, closes (1001) are spread over this period")
	f.Bytes(&o.maxQueueBytes, "max-queue-bytes", node.DefaultMaxQueueBytes, "frames waiting in one connection's outbound queue; past it the connection is closed with 4008 (at least "+formatBytes(messages.MaxPublishFrames)+")")
	f.Int(&o.windowSize, "window-size", node.DefaultWindowSize, 1, "recent events per org kept encoded in memory for instant replay (older ones replay from the log)")
	f.Bytes(&o.windowBytes, "window-bytes", node.DefaultWindowBytes, "bytes of encoded frames per org kept for instant replay; the oldest leave first, the newest always stays")
	f.Duration(&o.orgIdleGrace, "org-idle-grace", node.DefaultOrgIdleGrace, "how long an org's actor and NATS feed outlive its last client")
	f.Bool(&o.syncAlways, "sync-always", false, "fsync every write (survives power loss, not only crashes) at a throughput cost")
	f.Bool(&o.presence, "presence", true, "cluster presence: GET /v2/realtime/orgs/{org}/presence and presence=true streams (a KV bucket on NATS); false turns it off on this node")
	f.Bool(&o.dev, "dev", false, "development mode: the console at / gets a Mint token button (POST /v2/dev/tokens signs tokens for anyone who can reach --listen); for local try-outs only")
	f.String(&o.logLevel, "log-level", "info", "LEVEL", "debug, info, warn or error", checkLogLevel)
	f.String(&o.pprofListen, "pprof-listen", "", "ADDR", "serve net/http/pprof on this address for profiling; loopback only (127.0.0.0/8, [::1], localhost); empty = off", checkPprofListen)
	f.String(&o.logFormat, "log-format", "auto", "FORMAT", `json or console; "auto" means console when stderr is a terminal, else json`, checkLogFormat)
	return f
}

func checkNATSURLs(s string) error {
	for _, u := range splitList(s) {
		if err := checkURL(u); err != nil {
			return err
		}
	}
	return nil
}

// checkAdvertise accepts "host:port" with a port 1–65535: an advertised
// port 0 is no address the others could dial.
func checkAdvertise(s string) error {
	if err := checkHostPort(s); err != nil {
		return err
	}
	if _, port, _ := net.SplitHostPort(s); port == "0" {
		return fmt.Errorf("%q: port 0 cannot be dialed", s)
	}
	return nil
}

func checkNATSListen(s string) error {
	if s == "off" {
		return nil
	}
	return checkHostPort(s)
}

// check refuses combinations of flags that cannot work.
func (o *serveOptions) check() error {
	if o.maxQueueBytes < messages.MaxPublishFrames {
		return usagef("orgstream serve: --max-queue-bytes %s is below %d bytes, the frames of the largest publish: one event would cut an idle client (4008)",
			formatBytes(o.maxQueueBytes), messages.MaxPublishFrames)
	}
	if o.clusterAdvert != "" && o.clusterListen == "" {
		return usagef("orgstream serve: --cluster-advertise needs --cluster-listen: only a clustered node has a route address to advertise")
	}
	if o.clusterListen != "" && o.clusterSecret == "" {
		return usagef("orgstream serve: --cluster-listen needs --cluster-secret (or %s): the routes between nodes are authenticated", envName("cluster-secret"))
	}
	return o.nats.check(o.natsURL != "")
}

// config maps the flags to the node's Config (the secret resolved by the
// caller).
func (o *serveOptions) config(secret []byte, log *zap.Logger) node.Config {
	return node.Config{
		Listen:                o.listen,
		MetricsListen:         o.metricsListen,
		DataDir:               o.secret.dataDir,
		JWTSecret:             secret,
		JWTPublicKeyFile:      o.keys.publicKeyFile,
		JWKSURL:               o.keys.jwksURL,
		JWTIssuer:             o.secret.issuer,
		JWTAudience:           o.secret.audience,
		Retention:             o.retention,
		RetentionMaxEvents:    o.retentionMax,
		NATSURL:               o.natsURL,
		NATSListen:            o.natsListen,
		NATSListenFallback:    !o.natsListenSet,
		NATSPublisherPassword: o.nats.publisherPassword,
		NATSCredsFile:         o.nats.credsFile,
		NATSTLSCert:           o.nats.tlsCert,
		NATSTLSKey:            o.nats.tlsKey,
		NATSTLSCA:             o.nats.tlsCA,
		AllowedOrigins:        o.allowedOrigins,
		MaxConnsPerUser:       o.maxConnsPerUser,
		MaxConnsPerOrg:        o.maxConnsPerOrg,
		NodeName:              o.nodeName,
		ClusterListen:         o.clusterListen,
		ClusterAdvertise:      o.clusterAdvert,
		ClusterSecret:         o.clusterSecret,
		Routes:                o.routes,
		Replicas:              o.replicas,
		Partitions:            o.partitions,
		PingInterval:          o.pingInterval,
		DrainPeriod:           o.drainPeriod,
		MaxQueueBytes:         o.maxQueueBytes,
		WindowSize:            o.windowSize,
		WindowBytes:           o.windowBytes,
		OrgIdleGrace:          o.orgIdleGrace,
		SyncAlways:            o.syncAlways,
		Dev:                   o.dev,
		NoPresence:            !o.presence,
		Logger:                log,
	}
}

// serve runs the daemon until ctx ends or SIGINT/SIGTERM arrives.
func (c *cli) serve(ctx context.Context, args []string) error {
	var o serveOptions
	flags := newServeFlags(&o)
	if err := flags.parse(args, c.env); err != nil {
		return err
	}
	o.natsListenSet = flags.given("nats-listen")
	if err := o.check(); err != nil {
		return err
	}
	if o.nodeName == "" {
		if h, err := os.Hostname(); err == nil {
			o.nodeName = h
		}
	}
	log, err := newLogger(o.logLevel, o.logFormat, c.stderr)
	if err != nil {
		return usagef("orgstream serve: %v", err)
	}
	defer func() { _ = log.Sync() }()

	if err := o.keys.validate("serve"); err != nil {
		return err
	}
	secret, err := o.secret.resolve("serve", true)
	if err != nil {
		return err
	}

	sigCtx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	// A signal aborts the start, but the context handed to node.Start is
	// not cancelled by a later signal: shutdown goes through Shutdown, with
	// its drain, never through a cancelled start context.
	startCtx, cancelStart := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStart()
	unwatch := context.AfterFunc(sigCtx, cancelStart)

	log.Info("starting",
		zap.String("version", versionString()),
		zap.String("node", o.nodeName),
		zap.String("listen", o.listen),
		zap.String("data_dir", o.secret.dataDir),
		zap.Bool("embedded_nats", o.natsURL == ""),
		zap.Bool("dev", o.dev),
		zap.Bool("jwt_secret_from_data_dir", o.secret.fromDataDir()),
		zap.Uint64("open_files_limit", openFilesLimit()),
	)
	// The heap may pass its live data by the window's size, not by all of
	// it: see internal/heapcap and docs/PERFORMANCE.md.
	hc := heapcap.Start(uint64(max(o.windowBytes, heapcapMinHeadroom)))
	defer hc.Stop()
	n, err := node.Start(startCtx, o.config(secret, log))
	unwatch()
	if err != nil {
		if sigCtx.Err() != nil && errors.Is(err, context.Canceled) {
			// SIGTERM while the log was still opening (a cluster waiting for
			// its quorum): nothing to drain, a clean stop.
			log.Info("stopped before the log opened")
			return nil
		}
		if errors.Is(err, persistence.ErrPartitionsChanged) {
			// The operator's to fix, like a bad flag: exit 2.
			return usagef("orgstream serve: %v", err)
		}
		return fmt.Errorf("start: %w", err)
	}
	if a := n.MetricsAddr(); a != "" {
		o.metricsListen = a // port 0 resolved, for the hints
	}
	c.printHints(&o, n.Addr(), n.NATSURL())
	stopPprof, err := startPprof(o.pprofListen, log)
	if err != nil {
		_ = n.Shutdown(context.Background())
		return fmt.Errorf("pprof: %w", err)
	}
	defer stopPprof()

	<-sigCtx.Done()
	stopSignals() // a second Ctrl-C kills the process the default way
	log.Info("shutting down", zap.Duration("drain_period", o.drainPeriod))

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.drainPeriod+shutdownGrace)
	defer cancel()
	if err := n.Shutdown(shutdownCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not drained within %s: %w", o.drainPeriod+shutdownGrace, err)
		}
		log.Error("shutdown failed", zap.Error(err))
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// progName is how the hints spell this binary: as invoked when it is a path
// ("./bin/orgstream"), "go run ./cmd/orgstream" under go run, else the bare
// name found on $PATH.
func progName(arg0 string) string {
	switch {
	case strings.Contains(arg0, "go-build"):
		return "go run ./cmd/orgstream"
	case strings.ContainsRune(arg0, os.PathSeparator):
		return arg0
	default:
		return "orgstream"
	}
}
