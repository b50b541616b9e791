package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// MaxBatch is the most events one request may carry (PROTOCOL.md
// "Publishing").
const MaxBatch = 1000

// DefaultMinBatchEvents is PublisherConfig.MinBatchEvents' default.
const DefaultMinBatchEvents = 32

// maxIDLen is the longest id the daemon accepts, in bytes.
const maxIDLen = 256

// MaxRetryFor is the longest PublisherConfig.RetryFor. The daemon forgets
// an id after its dedup window (2 minutes, or --retention if shorter): a
// retry later than that could store an event a second time. An attempt
// started before RetryFor ends may run AttemptTimeout longer.
const MaxRetryFor = 90 * time.Second

// maxBody is the largest request body the daemon takes (PROTOCOL.md: 413
// body_too_large past 1 MiB).
const maxBody = 1 << 20

// PublisherConfig configures a Publisher. Org is required, and either NATS,
// or URL and one of Token and TokenFunc; every other zero value means the
// default its comment states.
type PublisherConfig struct {
	// URL is the daemon's base URL, http://host:port (or https://). The
	// Publisher posts to URL/v2/realtime/orgs/{Org}/events. Unused with
	// NATS.
	URL string
	// NATS, if set, carries the publishes instead of HTTP: each request
	// goes to subject orgstream.publish.{Org} with the same JSON body and
	// gets the same JSON answer, its status in the Orgstream-Status header
	// (PROTOCOL.md "Publishing", NATS). Connect it with the publisher
	// role's credentials (`orgstream nats-creds` prints USER:PASSWORD; use
	// nats.UserInfo). No token is needed: NATS access is the trust
	// boundary. The Publisher never closes it; one connection may serve
	// the Publishers of many orgs.
	NATS *nats.Conn
	// Org is the org published to.
	Org string
	// Token is a publish token (scope "publish", org Org or "*").
	Token string
	// TokenFunc, if set, is called before every attempt for the token to
	// use (Token is then ignored). An error from it ends the publish (as
	// ErrOutcomeUnknown if an earlier attempt was sent).
	TokenFunc func(ctx context.Context) (string, error)
	// HTTPClient sends the requests. Nil means a client of its own with
	// http.DefaultTransport's settings.
	HTTPClient *http.Client
	// AttemptTimeout bounds one request. Zero means 15 s: more than the
	// daemon's own publish timeout (10 s), so that the daemon's answer,
	// 503 included, normally comes first.
	AttemptTimeout time.Duration
	// RetryFor bounds the time during which failed attempts are retried,
	// counted from the first. Zero means 60 s; at most MaxRetryFor.
	RetryFor time.Duration
	// BackoffMin and BackoffMax bound the waits between attempts: full
	// jitter between 0 and min(BackoffMax, BackoffMin·2^attempt). Zero
	// means 100 ms and 5 s.
	BackoffMin, BackoffMax time.Duration

	// MaxBatchEvents bounds the events of one request: the events queued
	// while a request is in flight (or during Linger) go together in the
	// next one, up to this many and up to a 1 MiB body. Zero means
	// MaxBatch (1000); 1 turns coalescing off.
	MaxBatchEvents int
	// MinBatchEvents is the fewest events queued for which events of
	// several calls go together: with fewer, single events (Publish,
	// PublishAsync) go one per request. The daemon stores a request of
	// several events as one atomic batch, which costs more than a single
	// append (on an R1 log, a staging store and an fsync: measured at 10
	// to 100 single appends, the more the busier the disk), so coalescing
	// pays only past that many; under load the queue grows past it while
	// a request is in flight and batches form by themselves. Zero means
	// 32; 1 coalesces whatever is queued. A caller's batch (PublishBatch)
	// always goes as one.
	MinBatchEvents int
	// MaxInFlight bounds the requests in flight at once. Zero means 1,
	// which keeps the order of calls (see Publisher); more sends the next
	// batches before the earlier ones are answered, for throughput over
	// a slow link, and gives up that order.
	MaxInFlight int
	// Linger is how long a request waits for more events before it is
	// sent, unless MaxBatchEvents are queued. Zero means no wait: the
	// first event goes at once, and events coalesce only while requests
	// are in flight, which adds no latency to a lone publisher.
	Linger time.Duration
	// MaxPending bounds the events queued and not yet sent: past it,
	// PublishAsync and Publish wait for room (or for their context).
	// Zero means 10 × MaxBatchEvents.
	MaxPending int
}

func (c *PublisherConfig) validate() error {
	if c.NATS == nil {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return fmt.Errorf("%w: URL must be http(s)://host:port", ErrInvalidConfig)
		case c.Token == "" && c.TokenFunc == nil:
			return fmt.Errorf("%w: neither Token nor TokenFunc is set", ErrInvalidConfig)
		}
	}
	switch {
	case c.Org == "":
		return fmt.Errorf("%w: Org is empty", ErrInvalidConfig)
	case c.NATS != nil && !messages.ValidOrg(c.Org):
		// Over HTTP the daemon judges the org (400 invalid_org); over NATS
		// a dot or a wildcard would change the subject.
		return fmt.Errorf("%w: Org %q is not an org id ([A-Za-z0-9_-]{1,64})", ErrInvalidConfig, c.Org)
	case c.AttemptTimeout < 0, c.RetryFor < 0, c.BackoffMin < 0, c.BackoffMax < 0, c.Linger < 0:
		return fmt.Errorf("%w: a negative duration", ErrInvalidConfig)
	case c.MaxBatchEvents < 0 || c.MaxBatchEvents > MaxBatch:
		return fmt.Errorf("%w: MaxBatchEvents %d is not within 0…%d", ErrInvalidConfig, c.MaxBatchEvents, MaxBatch)
	case c.MinBatchEvents < 0:
		return fmt.Errorf("%w: a negative MinBatchEvents", ErrInvalidConfig)
	case c.MaxInFlight < 0, c.MaxPending < 0:
		return fmt.Errorf("%w: a negative MaxInFlight or MaxPending", ErrInvalidConfig)
	case c.RetryFor > MaxRetryFor:
		return fmt.Errorf("%w: RetryFor %v is over %v (the daemon's dedup window is 2 minutes)",
			ErrInvalidConfig, c.RetryFor, MaxRetryFor)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AttemptTimeout, 15*time.Second)
	def(&c.RetryFor, 60*time.Second)
	def(&c.BackoffMin, 100*time.Millisecond)
	def(&c.BackoffMax, 5*time.Second)
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.MaxBatchEvents == 0 {
		c.MaxBatchEvents = MaxBatch
	}
	if c.MinBatchEvents == 0 {
		c.MinBatchEvents = DefaultMinBatchEvents
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1
	}
	if c.MaxPending == 0 {
		c.MaxPending = 10 * c.MaxBatchEvents
	}
	if c.HTTPClient == nil && c.NATS == nil {
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return nil
}

// Message is one event to publish.
type Message struct {
	// Topic is the event's topic, e.g. "orders.updated".
	Topic string
	// Data is the event's data, any JSON value; nil is sent as null.
	Data json.RawMessage
	// ID is the idempotency key. Empty means the Publisher assigns a
	// fresh one (NewID). Give your own when the event has a natural key
	// (an order's version, a source's message id): then even a publish
	// repeated by a restarted process is stored once, within the dedup
	// window.
	ID string
}

// Ack is the answer to a published event.
type Ack struct {
	// ID is the id the event was sent with (assigned, or the Message's).
	ID string
	// Seq is the event's seq in the org's log.
	Seq uint64
	// Duplicate: the daemon had already stored this id, typically
	// because an earlier attempt reached it before failing; Seq is the
	// first seq. It is known only when every event of the request was a
	// duplicate (200): in a request coalesced with new events it is false.
	Duplicate bool
	// Attempts is the number of requests sent.
	Attempts int
	// Batched is the number of events in the request that carried this
	// one (1 when it went alone).
	Batched int
}

// BatchAck is the answer to a published batch.
type BatchAck struct {
	// IDs are the ids the events were sent with, in order.
	IDs []string
	// Seqs are the events' seqs, in order: new events get consecutive
	// seqs, events already stored their first seq.
	Seqs []uint64
	// Duplicate: every event of the batch had already been stored (known
	// when every event of the request was: 200).
	Duplicate bool
	// Attempts is the number of requests sent.
	Attempts int
}

// Publisher publishes events to one org, over HTTP or NATS
// (PublisherConfig.NATS), pipelined and batched.
//
// Calls queue their events; a sender takes what is queued (up to
// MaxBatchEvents events and a 1 MiB body) into one request, so the events
// handed over while a request is in flight go together in the next one. A
// batch of the caller (PublishBatch) is never split, so it stays all or
// nothing. An event the daemon would refuse as the client can tell (a bad
// topic, a body over 1 MiB) goes in a request of its own, so that its 4xx
// fails it alone and not its neighbours; a 4xx for other reasons (a bad
// token) fails exactly the events of its request.
//
// Every event carries an id (NewID unless the Message has one), so the
// Publisher retries transient failures (503, 5xx from a proxy, network
// errors, timeouts, no NATS responder) with the same ids and backoff: a
// retry of an event that the daemon stored before the failure gets its first
// seq back instead of storing it again. A 4xx is never retried.
//
// Order: with MaxInFlight 1 (the default) one request is in flight at a
// time and requests go in the order of the calls, each retried until it is
// answered or given up before the next is sent: events get seqs in the
// order of the calls (of one goroutine, or as the calls of several
// goroutines happened), consecutive but for the events of other
// publishers. With MaxInFlight > 1 requests overlap and the daemon
// serializes them as they arrive, so the seqs of different requests may be
// in another order than the calls, a retried request's the more so; the
// events of one request always get consecutive seqs.
//
// Safe for concurrent use. It runs a sender goroutine per request in
// flight, only while events are queued or in flight; Close (or Shutdown)
// flushes the queue and waits for them.
type Publisher struct {
	cfg      PublisherConfig
	endpoint string // HTTP
	subject  string // NATS
	randN    func(int64) int64
	q        queue
}

// NewPublisher checks cfg and returns a Publisher.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.URL, "/") + "/v2/realtime/orgs/" + url.PathEscape(cfg.Org) + "/events",
		subject:  natsPublishPrefix + cfg.Org,
		randN:    rand.Int64N,
	}
	p.q.init()
	return p, nil
}

// wireEvent is a Message as the daemon reads it.
type wireEvent struct {
	Topic string          `json:"topic"`
	Data  json.RawMessage `json:"data"`
	ID    string          `json:"id"`
}

// answer is the daemon's JSON answer, success or refusal.
type answer struct {
	Seq   *uint64  `json:"seq"`
	Seqs  []uint64 `json:"seqs"`
	Error string   `json:"error"`
	Code  string   `json:"code"`
}

// Publish sends one event and returns its seq once the daemon has stored
// it. ctx bounds the whole publish: the wait for room in the queue, the
// request and its retries. On error, errors.Is tells ErrPublishRefused (a
// 4xx: fix the request) from ErrOutcomeUnknown (retries ran out or ctx
// ended: publish again with the same ID, PublishError.IDs[0]) and
// ErrInvalidMessage or ErrPublisherClosed (nothing was sent).
func (p *Publisher) Publish(ctx context.Context, m Message) (Ack, error) {
	g, err := newGroup(ctx, []Message{m}, true)
	if err != nil {
		return Ack{}, err
	}
	inline, err := p.q.push(ctx, p, g, true)
	if err != nil {
		return Ack{}, err
	}
	if inline {
		p.sendInline(g)
	}
	return (&Pending{g: g}).Wait(ctx)
}

// PublishAsync queues one event and returns at once (unless MaxPending
// events are queued: then it waits for room, or ctx) with a Pending that
// completes once the daemon has stored it or the publish failed. ctx
// bounds the whole publish, as for Publish: when it ends, the event is
// not sent any more, nor retried (it may be stored already).
func (p *Publisher) PublishAsync(ctx context.Context, m Message) (*Pending, error) {
	g, err := newGroup(ctx, []Message{m}, true)
	if err != nil {
		return nil, err
	}
	if _, err := p.q.push(ctx, p, g, false); err != nil {
		return nil, err
	}
	return &Pending{g: g}, nil
}

// PublishBatch sends up to MaxBatch events as one all-or-nothing unit (it
// may share its request with other queued events, never be split) and
// returns their seqs, consecutive, once the daemon has stored them all.
// Errors as for Publish.
func (p *Publisher) PublishBatch(ctx context.Context, ms []Message) (BatchAck, error) {
	if len(ms) == 0 || len(ms) > MaxBatch {
		return BatchAck{}, fmt.Errorf("%w: a batch holds 1 to %d events, not %d", ErrInvalidMessage, MaxBatch, len(ms))
	}
	g, err := newGroup(ctx, ms, false)
	if err != nil {
		return BatchAck{}, err
	}
	inline, err := p.q.push(ctx, p, g, true)
	if err != nil {
		return BatchAck{}, err
	}
	if inline {
		p.sendInline(g)
	}
	r, err := g.wait(ctx)
	if err != nil {
		return BatchAck{}, err
	}
	return BatchAck{IDs: g.ids, Seqs: r.seqs, Duplicate: r.dup, Attempts: r.attempts}, nil
}

// wire gives m its id (a fresh one if it has none), checks what can be
// checked without the daemon, and encodes it.
func wire(m Message) ([]byte, string, error) {
	if m.Topic == "" {
		return nil, "", fmt.Errorf("%w: no topic", ErrInvalidMessage)
	}
	if m.ID == "" {
		m.ID = NewID()
	} else if err := validID(m.ID); err != nil {
		return nil, "", err
	}
	b, err := json.Marshal(wireEvent(m))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	return b, m.ID, nil
}
