package node

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/actors"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/transport"
)

// Config is one orgstream daemon's configuration; the fields mirror the flags
// of PROTOCOL.md. Zero values mean the documented default unless stated.
type Config struct {
	// Listen is the HTTP + WebSocket address. Zero value means
	// DefaultListen.
	Listen string
	// MetricsListen, when set, serves GET /metrics and GET
	// /v2/realtime/metrics on this address only (Listen answers them 404).
	// Empty (the zero value) serves them on Listen.
	MetricsListen string
	// DataDir holds the embedded NATS/JetStream store and local state
	// (jwt-secret). Zero value means DefaultDataDir.
	DataDir string
	// JWTSecret is the HS256 key, at least 32 bytes. Empty means read
	// <DataDir>/jwt-secret, generating it (mode 0600) on first start; HS256
	// tokens are accepted beside the public keys below either way.
	JWTSecret []byte
	// JWTPublicKeyFile is a PEM file of public keys (RS256, ES256, EdDSA)
	// whose tokens are accepted. Empty means none.
	JWTPublicKeyFile string
	// JWKSURL is an identity provider's JWK set URL; its keys verify tokens
	// by kid. Empty means none.
	JWKSURL string
	// JWTIssuer and JWTAudience, when set, must match every token's iss and
	// aud, HS256 tokens included. Empty means not checked.
	JWTIssuer   string
	JWTAudience string
	// Retention is how long an org's events stay replayable. Zero means
	// DefaultRetention.
	Retention time.Duration
	// RetentionMaxEvents bounds the retained events per org. Zero means
	// DefaultRetentionMaxEvents.
	RetentionMaxEvents int64
	// NATSURL, when set, uses an existing NATS server/cluster instead of the
	// embedded one.
	NATSURL string
	// NATSListen is the client address of the embedded NATS server: host:port,
	// port 0 picks a free one, "off" opens none. Zero value means
	// DefaultNATSListen.
	NATSListen string
	// NATSListenFallback listens on a free port when NATSListen's port is
	// taken, with a warning (the CLI sets it when --nats-listen was not
	// given: the default 4222 of a second node on the same host).
	NATSListenFallback bool
	// NATSPublisherPassword is the password of the embedded server's
	// publisher role (user "publisher"). Empty means read
	// <DataDir>/nats-publisher-password, generating it (mode 0600) on
	// first start. In a cluster every node needs the same one.
	NATSPublisherPassword string
	// NATSCredsFile is a NATS credentials file (JWT and NKey seed) the
	// daemon authenticates with to the NATSURL cluster; user and password
	// in the URL work too. Unused with the embedded server.
	NATSCredsFile string
	// NATSTLSCert, NATSTLSKey and NATSTLSCA (PEM files), optional: on the
	// embedded server, TLS on the client port and the routes (routes
	// verify each other against the CA); with NATSURL, the CA the
	// cluster's certificates are checked against and a client certificate.
	NATSTLSCert, NATSTLSKey, NATSTLSCA string
	// AllowedOrigins lists Origin values allowed on the stream; "*" (the zero
	// value's meaning) allows all. Requests without Origin are allowed.
	AllowedOrigins []string
	// MaxConnsPerUser bounds open streams per (org, sub); 0 = no limit.
	// Negative means DefaultMaxConnsPerUser.
	MaxConnsPerUser int
	// MaxConnsPerOrg bounds open streams per org; 0 = no limit.
	MaxConnsPerOrg int

	// NodeName is this node's unique name. Zero value means the host name.
	NodeName string
	// ClusterListen is the embedded NATS server's route address; empty means
	// not clustered.
	ClusterListen string
	// ClusterAdvertise is the route address "host:port" the other nodes
	// learn for this node through the route gossip; empty means
	// ClusterListen's. Only with ClusterListen.
	ClusterAdvertise string
	// ClusterSecret authenticates the routes between nodes; required with
	// ClusterListen. A node with another secret never joins.
	ClusterSecret string
	// Routes are the other nodes' route URLs.
	Routes []string
	// Replicas is the log's replication factor. Zero means
	// DefaultReplicas.
	Replicas int
	// Partitions is the number of event streams of the log (1..64; see
	// persistence/partitions.go). Zero means DefaultPartitions.
	Partitions int

	// PingInterval is the WebSocket heartbeat period. Zero means
	// DefaultPingInterval.
	PingInterval time.Duration
	// DrainPeriod spreads the 1001 closes on shutdown. Zero means
	// DefaultDrainPeriod.
	DrainPeriod time.Duration
	// MaxQueueBytes bounds the frames waiting in one connection's outbound
	// queue (the batch being written aside); past it the connection is
	// closed with 4008. Zero means DefaultMaxQueueBytes; below
	// messages.MaxPublishFrames Start refuses it (ErrInvalidConfig): the
	// frames of one publish would cut an idle client.
	MaxQueueBytes int
	// WindowSize is how many recent events each org keeps encoded in memory
	// for instant replay; older retained events are replayed from the log.
	// Zero means DefaultWindowSize.
	WindowSize int
	// WindowBytes bounds the encoded frames each org keeps in its window,
	// each counted with all its forms (messages.Frame.MemBound: plain,
	// deflated, and its SSE forms at their bound); the oldest leave first, the newest always stays.
	// Zero means DefaultWindowBytes.
	WindowBytes int
	// OrgIdleGrace is how long an org's actor and live feed outlive its last
	// client. Zero means DefaultOrgIdleGrace.
	OrgIdleGrace time.Duration
	// LogProbeInterval is how often the node asks whether its log can take
	// writes (a stream leader exists); /readyz answers 503 while it cannot.
	// Zero means DefaultLogProbeInterval.
	LogProbeInterval time.Duration
	// SyncAlways makes JetStream fsync every write (survives power loss, not
	// only process crashes) at a throughput cost.
	SyncAlways bool
	// Dev turns on development mode (--dev): POST /v2/dev/tokens mints
	// tokens for anyone who can reach Listen, for the console's "Mint
	// token" button. False means the route does not exist.
	Dev bool

	// NoPresence turns cluster presence off on this node (--presence=false):
	// GET /v2/realtime/orgs/{org}/presence answers 404 presence_disabled,
	// presence=true streams get no presence frames, and the node neither
	// writes nor watches the presence bucket. False (the zero value) means
	// presence is on.
	NoPresence bool

	// TicketTTL is how long a connect ticket (POST /v2/realtime/tickets)
	// stays good for its one stream. Zero means tickets.DefaultTTL (30 s).
	TicketTTL time.Duration

	// Logger receives structured logs. Nil means zap.NewNop().
	Logger *zap.Logger

	// wrapHubLog, when set, wraps the log the actors use: the seam through
	// which fault-injection tests make an org actor panic (export_test.go,
	// WrapHubLog). Unexported: no caller outside the package can set it.
	wrapHubLog func(persistence.Log) persistence.Log
}

// Defaults of Config (the CLI's flags show them). Those of the parts that
// apply them are defined there and only named here, so each has one home.
const (
	DefaultListen           = transport.DefaultListen
	DefaultDataDir          = "./data"
	DefaultNATSListen       = persistence.DefaultNATSListen
	DefaultMaxConnsPerUser  = 100
	DefaultDrainPeriod      = 5 * time.Second
	DefaultLogProbeInterval = time.Second

	DefaultRetention          = persistence.DefaultRetention
	DefaultRetentionMaxEvents = persistence.DefaultMaxEventsPerOrg
	DefaultReplicas           = persistence.DefaultReplicas
	DefaultPartitions         = persistence.DefaultPartitions

	DefaultPingInterval  = actors.DefaultPingInterval
	DefaultWindowSize    = actors.DefaultWindowSize
	DefaultWindowBytes   = actors.DefaultWindowBytes
	DefaultMaxQueueBytes = actors.DefaultMaxQueueBytes
	DefaultOrgIdleGrace  = actors.DefaultOrgIdleGrace
)

// ErrInvalidConfig wraps the Config errors of Start.
var ErrInvalidConfig = errors.New("node: invalid config")

// check refuses values that cannot work; it runs after setDefaults.
func (c *Config) check() error {
	if c.MaxQueueBytes < messages.MaxPublishFrames {
		return fmt.Errorf("%w: MaxQueueBytes %d is below %d bytes, the frames of the largest publish: "+
			"one event would cut an idle client (4008)", ErrInvalidConfig, c.MaxQueueBytes, messages.MaxPublishFrames)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.RetentionMaxEvents <= 0 {
		c.RetentionMaxEvents = DefaultRetentionMaxEvents
	}
	if c.NATSListen == "" {
		c.NATSListen = DefaultNATSListen
	}
	if c.MaxConnsPerUser < 0 {
		c.MaxConnsPerUser = DefaultMaxConnsPerUser
	}
	if c.NodeName == "" {
		c.NodeName, _ = os.Hostname()
	}
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.DrainPeriod <= 0 {
		c.DrainPeriod = DefaultDrainPeriod
	}
	if c.LogProbeInterval <= 0 {
		c.LogProbeInterval = DefaultLogProbeInterval
	}
	if c.WindowSize <= 0 {
		c.WindowSize = DefaultWindowSize
	}
	// The window must not serve what the log no longer retains by count: a
	// resume past the retained events is a window_exceeded reset.
	if int64(c.WindowSize) > c.RetentionMaxEvents {
		c.WindowSize = int(c.RetentionMaxEvents)
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.WindowBytes <= 0 {
		c.WindowBytes = DefaultWindowBytes
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}
