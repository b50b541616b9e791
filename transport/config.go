package transport

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/transport/auth"
)

// Defaults of Config.
const (
	DefaultListen         = "127.0.0.1:8080"
	DefaultPublishTimeout = 10 * time.Second
	DefaultHeaderTimeout  = 10 * time.Second
)

// MaxPublishBody is the largest publish body accepted (PROTOCOL.md: 413 over
// 1 MiB), over HTTP and NATS alike.
const MaxPublishBody = messages.MaxBody

// Errors of New, Start and Readiness.
var (
	// ErrInvalidConfig wraps every Config error of New.
	ErrInvalidConfig = errors.New("transport: invalid config")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("transport: already started")
	// ErrClosed is returned by Start after Shutdown.
	ErrClosed = errors.New("transport: server closed")
	// ErrDraining is what a Readiness returns (or wraps) while the node
	// drains; refusals then carry code "draining" instead of "not_ready".
	ErrDraining = errors.New("transport: draining")
)

// Config configures a Server. Publisher and Streams are required; every other
// field has a usable zero value.
type Config struct {
	// Listen is the TCP address of HTTP and WebSocket. Empty means
	// DefaultListen; port 0 picks a free port (see Server.Addr).
	Listen string
	// Verifier checks the tokens of streams and publishes, and signs the
	// dev route's tokens (Dev). Required; the Server does not close it.
	Verifier *auth.Verifier
	// AllowedOrigins lists the Origin values a stream may come from (compared
	// case-insensitively). Empty, or any element "*", allows every origin.
	// Requests without Origin are always allowed.
	AllowedOrigins []string

	// Publisher stores published events. Required.
	Publisher Publisher
	// Streams takes the upgraded connections. Required.
	Streams Streams
	// History serves GET /v2/realtime/orgs/{org}/events. Nil leaves the
	// route unregistered (404).
	History History
	// Readiness gates new streams, publishes and /readyz. Nil means always
	// ready.
	Readiness Readiness
	// Presence answers GET PresencePath. Nil means presence is off: 404
	// presence_disabled.
	Presence Presence
	// Tickets issues and redeems connect tickets (POST TicketsPath, the
	// streams' ticket query). Nil leaves the route unregistered (404) and
	// refuses every ticket (401 invalid_ticket).
	Tickets Tickets

	// Metrics receives the transport's counters and is exported on /metrics
	// and /v2/realtime/metrics. Nil means a private metrics.New(). A zero
	// Start is set by New (the uptime counts from there).
	Metrics *metrics.Metrics
	// Logger receives refusals (Info, or Debug past a rate per code: see
	// log_sample.go), failures (Warn) and the access log (Debug). Nil means
	// no logs.
	Logger *zap.Logger
	// NATS, when set, is used to answer publish requests on
	// "orgstream.publish.<org>" (queue group "orgstream"). The Server does
	// not close it. Nil means no NATS responder.
	NATS *nats.Conn

	// MetricsListen, when set, is a second TCP address that serves GET
	// /metrics and GET /v2/realtime/metrics, and Listen then answers both
	// with 404 not_found like any unknown path: an operator who gives
	// metrics their own address wants them off the public port. Port 0
	// picks a free port (see Server.MetricsAddr). Empty (the zero value)
	// serves them on Listen.
	MetricsListen string

	// Dev turns on development mode: POST /v2/dev/tokens mints tokens for
	// anyone who can reach Listen (the console's "Mint token" button), and
	// GET /v2/console/config tells the console so. False (the zero value)
	// leaves that route unregistered (404).
	Dev bool

	// Now is the clock for token expiry and uptime. Nil means time.Now.
	Now func() time.Time
	// PublishTimeout bounds one Publisher.Publish call; past it the answer
	// is 503. Zero means DefaultPublishTimeout.
	PublishTimeout time.Duration
	// HeaderTimeout bounds reading a request head and answering the
	// WebSocket handshake. Zero means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
}

// validate checks the required fields and fills the defaults.
func (c *Config) validate() error {
	switch {
	case c.Publisher == nil:
		return fmt.Errorf("%w: Publisher is nil", ErrInvalidConfig)
	case c.Streams == nil:
		return fmt.Errorf("%w: Streams is nil", ErrInvalidConfig)
	case c.Verifier == nil:
		return fmt.Errorf("%w: Verifier is nil", ErrInvalidConfig)
	case c.PublishTimeout < 0:
		return fmt.Errorf("%w: PublishTimeout is negative", ErrInvalidConfig)
	case c.HeaderTimeout < 0:
		return fmt.Errorf("%w: HeaderTimeout is negative", ErrInvalidConfig)
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Readiness == nil {
		c.Readiness = alwaysReady{}
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	origins := make([]string, 0, len(c.AllowedOrigins))
	for _, o := range c.AllowedOrigins {
		o = strings.TrimSpace(o)
		if o == "*" {
			origins = nil
			break
		}
		if o != "" {
			origins = append(origins, o)
		}
	}
	c.AllowedOrigins = origins
	return nil
}

// originAllowed applies AllowedOrigins (already normalised by validate).
func (c *Config) originAllowed(origin string) bool {
	if len(c.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range c.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

type alwaysReady struct{}

func (alwaysReady) Ready() error { return nil }
