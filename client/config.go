package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// Close codes of PROTOCOL.md, and those the client itself uses.
const (
	CloseNormal        = 1000 // Close, or the end of Run's context
	CloseGoingAway     = 1001 // the node drains: reconnect at once
	CloseProtocolError = 1002 // sent by the client on a gap or a malformed frame
	CloseAbnormal      = 1006 // reported when the TCP connection ended without a close frame
	ClosePolicy        = 1008 // the client sent a data frame: permanent
	CloseTooBig        = 1009 // the client sent too much (or received too much): permanent
	CloseTokenExpired  = 4001 // get a new token, reconnect at once
	CloseSlowConsumer  = 4008 // reconnect at once
	CloseTooMany       = 4029 // back off from BackoffTooMany
)

// Config configures a Client. Only URL and one of Token and TokenFunc are
// required; every other zero value means the default its comment states.
type Config struct {
	// URL is the stream endpoint, ws://host:port/v2/realtime/stream (or
	// wss://). The client adds access_token (unless UseHeader), last_seq and
	// epoch to its query; other query values are kept as they are.
	URL string
	// FallbackURLs are the same endpoint on the other nodes of a cluster,
	// for when no load balancer is in front. After a failed attempt, or a
	// connection that ended without the server asking to come straight
	// back (anything but 4001, 4008 and 4029; 1001 means the node is going
	// away),
	// the next connection goes to the next URL: URL, FallbackURLs[0], …,
	// then URL again. A client resumes on any node. Empty means URL only.
	FallbackURLs []string
	// Token is a static token. With a static token a 401 refusal and a
	// close with 4001 end Run with an error.
	Token string
	// TokenFunc, if set, is called before every connection attempt for the
	// token to use (Token is then ignored). An error from it counts as a
	// failed attempt (backoff, then it is called again).
	TokenFunc func(ctx context.Context) (string, error)
	// UseHeader sends the token as "Authorization: Bearer" instead of the
	// access_token query value.
	UseHeader bool

	// Epoch and LastSeq are the initial position; Resume makes the first
	// connection resume after it (last_seq=LastSeq, and epoch=Epoch when
	// Epoch is not empty). Without Resume the first connection starts live.
	Epoch   string
	LastSeq uint64
	Resume  bool

	// Topics narrows the stream to events whose topic matches one of these
	// patterns (query topics=; "orders.*", "billing.>"). Each must be
	// covered by the token's topics claim, if it has one (else the server
	// refuses with 403 topic_forbidden, which ends Run). A scoped stream's
	// seqs have holes; the client takes them as legitimate.
	Topics []string
	// TrustHoles takes every hole in the seqs as legitimate. Without it, a
	// hole on an unscoped stream (an event published to other users) is
	// checked by one resume, whose replay the server reads from its log:
	// a lost event comes back. Set it for orgs that publish to users often.
	TrustHoles bool
	// Presence asks for presence frames (query presence=true): OnPresence
	// is called when a user's first stream opens or last stream closes
	// anywhere in the cluster.
	Presence bool

	// Compression offers permessage-deflate (no context takeover either
	// way). The server then compresses frames over 1 KiB; inflating them
	// borrows a decompressor from a pool shared by every Client.
	Compression bool

	// Callbacks, each optional, all called on the goroutine that runs Run,
	// one at a time: a slow callback slows the reading of the stream (and
	// at length gets the connection cut with 4008, after which the client
	// resumes). None is called after Close returned except OnClose and
	// OnState(Closed) of the ending connection.
	OnWelcome func(Welcome)
	OnEvent   func(Event)
	OnReset   func(Reset)
	OnState   func(State)
	// OnGap reports a hole the client checks: an event whose seq is not
	// last+1 on a stream without a topic scope (see TrustHoles). The event
	// is not delivered; the client drops the connection and resumes after
	// the last delivered seq, and on that connection takes the first event
	// after it as it comes.
	OnGap func(expected, got uint64)
	// OnPresence receives presence frames (Config.Presence).
	OnPresence func(Presence)
	// OnClose is called at the end of every connection attempt. code is
	// the close code of the close frame that ended it (received, or sent by
	// the client: 1000 on Close, 1002 on a gap or a malformed frame, 1009
	// on a message over MaxMessageSize), CloseAbnormal (1006) when the TCP
	// connection ended without one, and 0 when no WebSocket was opened
	// (dial error, refusal, TokenFunc error). err is nil only for a
	// connection ended by Close or by the end of Run's context.
	OnClose func(code int, reason string, err error)

	// BackoffMin and BackoffMax bound the wait before a new attempt after a
	// failure: full jitter, rand(0, min(BackoffMax, BackoffMin·2^attempt)).
	// Zero means 100ms and 10s.
	BackoffMin, BackoffMax time.Duration
	// BackoffTooMany is the base of the wait after a close with 4029, also
	// doubled per attempt and capped at max(BackoffMax, BackoffTooMany);
	// that wait is "equal jitter" (at least half of it), so that a refused
	// client never retries at once. Zero means 5s.
	BackoffTooMany time.Duration

	// Dialer dials the TCP connections (nil means a zero net.Dialer). Its
	// LocalAddr spreads many clients over 127.0.0.x source addresses.
	Dialer *net.Dialer
	// HandshakeTimeout bounds the TCP dial and the WebSocket handshake.
	// Zero means 10s.
	HandshakeTimeout time.Duration
	// ReadTimeout drops a connection on which nothing (not even a server
	// ping) arrived for that long; it is checked lazily, so the actual
	// limit is between 3/4 of it and all of it. Zero means 60s (the server
	// pings every 25s).
	ReadTimeout time.Duration
	// ReadBufferSize is the size of the connection's read buffer; a frame
	// that fits is decoded in place, without a copy. Zero means 4096.
	ReadBufferSize int
	// MaxMessageSize bounds one message (after decompression); a bigger
	// one drops the connection (close 1009) and counts as a failure. Zero
	// means 4 MiB (events carry at most 1 MiB of data).
	MaxMessageSize int

	// Logger receives debug logs of connection ends (never a token or a
	// URL with one). Nil means zap.NewNop().
	Logger *zap.Logger
}

// Defaults of Config's zero values.
const (
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 10 * time.Second
	DefaultBackoffTooMany   = 5 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadTimeout      = 60 * time.Second
	DefaultReadBufferSize   = 4096
	DefaultMaxMessageSize   = 4 << 20
)

// minReadBufferSize keeps room for a whole frame header and a control
// frame.
const minReadBufferSize = 256

// validate fills the defaults and checks what cannot work; it returns the
// parsed URLs: URL, then FallbackURLs.
func (c *Config) validate() ([]*url.URL, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("%w: URL is empty", ErrInvalidConfig)
	}
	var urls []*url.URL
	for i, raw := range append([]string{c.URL}, c.FallbackURLs...) {
		name := "URL"
		if i > 0 {
			name = fmt.Sprintf("FallbackURLs[%d]", i-1)
		}
		u, err := parseStreamURL(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, name, err)
		}
		urls = append(urls, u)
	}
	if c.Token == "" && c.TokenFunc == nil {
		return nil, fmt.Errorf("%w: neither Token nor TokenFunc", ErrInvalidConfig)
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffMin {
		return nil, fmt.Errorf("%w: BackoffMax %v < BackoffMin %v", ErrInvalidConfig, c.BackoffMax, c.BackoffMin)
	}
	if c.BackoffTooMany <= 0 {
		c.BackoffTooMany = DefaultBackoffTooMany
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	c.ReadBufferSize = max(c.ReadBufferSize, minReadBufferSize)
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return urls, nil
}

// parseStreamURL checks one ws:// or wss:// endpoint.
func parseStreamURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("scheme %q, want ws or wss", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}
