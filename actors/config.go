package actors

import (
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/persistence"
)

// Defaults of Config that the node and the CLI share; this is their one
// home.
const (
	// DefaultMaxQueueBytes admits the frames of a few largest publishes
	// behind a write in flight.
	DefaultMaxQueueBytes = 4 << 20
	// DefaultWindowBytes bounds an org's window in memory.
	DefaultWindowBytes = 64 << 20
	// DefaultWindowSize is how many recent events an org keeps encoded.
	DefaultWindowSize = 1024
	// DefaultOrgIdleGrace is how long an org actor outlives its last
	// client.
	DefaultOrgIdleGrace = 30 * time.Second
	// DefaultPingInterval is the WebSocket heartbeat period.
	DefaultPingInterval = 25 * time.Second
)

// Config configures a Hub. Zero values mean the documented defaults.
type Config struct {
	// Log is the org log. Required.
	Log persistence.Log
	// Metrics receives the counters. Nil means a private set.
	Metrics *metrics.Metrics
	// Logger receives logs. Nil means zap.NewNop().
	Logger *zap.Logger

	// WindowSize is how many recent events an org actor keeps encoded in
	// memory. Zero means DefaultWindowSize.
	WindowSize int
	// OrgIdleGrace is how long an org actor (and its live feed) lives after
	// its last client left. Zero means DefaultOrgIdleGrace.
	OrgIdleGrace time.Duration
	// WindowBytes bounds the encoded frames of an org's window, each
	// counted with all its forms (messages.Frame.MemBound); the oldest leave first, the newest always stays. Zero
	// means DefaultWindowBytes.
	WindowBytes int
	// MaxQueueBytes bounds the frames waiting in a connection's outbound
	// queue, the batch being written aside; past it the connection is
	// closed with 4008. Zero means DefaultMaxQueueBytes. The node refuses values below
	// messages.MaxPublishFrames (node.Config.MaxQueueBytes); tests of slow
	// consumers use smaller ones here.
	MaxQueueBytes int
	// WriteTimeout bounds one socket write. Zero means 10s.
	WriteTimeout time.Duration
	// CloseLinger is how long a closing connection waits for the client's
	// close frame. Zero means 2s.
	CloseLinger time.Duration
	// PingInterval is the heartbeat period. Zero means
	// DefaultPingInterval.
	PingInterval time.Duration
	// PublishTimeout bounds a publish without a context deadline. Zero means
	// 10s.
	PublishTimeout time.Duration
	// RecoverTimeout bounds each log read of a recovery or replay. Zero
	// means 10s.
	RecoverTimeout time.Duration
	// RestartBackoff is the first delay before a failed org actor restarts.
	// Zero means 100ms.
	RestartBackoff time.Duration
	// AppendRetries bounds the retries of an append after conflicts. Zero
	// means 20.
	AppendRetries int
	// MaxConnsPerUser bounds open streams per (org, user); 0 = no limit.
	MaxConnsPerUser int
	// MaxConnsPerOrg bounds open streams per org; 0 = no limit.
	MaxConnsPerOrg int
	// Presence hears the per-(org, user) stream counts the hub keeps for
	// MaxConnsPerUser, whenever one changes. Nil means no presence.
	Presence PresenceCounts
}

// PresenceCounts is told how many streams each (org, user) has open on this
// node. The hub already counts them for its limits; presence hooks on those
// counts rather than counting again.
type PresenceCounts interface {
	// UserStreams reports user's open streams of org on this node after a
	// stream opened or closed (0 when its last one closed). Calls come in
	// the order the counts changed, with the hub's lock held: it must not
	// block nor call back into the hub.
	UserStreams(org, user string, n int)
}

func (c *Config) validate() error {
	if c.Log == nil {
		return errors.New("actors: Config.Log is required")
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.OrgIdleGrace, DefaultOrgIdleGrace)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.CloseLinger, 2*time.Second)
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.PublishTimeout, 10*time.Second)
	def(&c.RecoverTimeout, 10*time.Second)
	def(&c.RestartBackoff, 100*time.Millisecond)
	if c.WindowSize <= 0 {
		c.WindowSize = DefaultWindowSize
	}
	if c.WindowBytes <= 0 {
		c.WindowBytes = DefaultWindowBytes
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.AppendRetries <= 0 {
		c.AppendRetries = 20
	}
	return nil
}

// coreConfig is what each org's core is bounded by. Its retention is the
// log's own (Log.Retention), never a copy a caller could set apart: window
// entries older than it are dropped, so the window never serves what the
// log no longer replays (and never drops what it still does).
func (c *Config) coreConfig() orgcore.Config {
	return orgcore.Config{
		WindowSize: c.WindowSize, WindowBytes: c.WindowBytes,
		Retention: c.Log.Retention(), MaxQueueBytes: c.MaxQueueBytes,
	}
}
