package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxBatch is the most events one request may carry (PROTOCOL.md
// "Publishing").
const MaxBatch = 1000

// maxIDLen is the longest id the daemon accepts, in bytes.
const maxIDLen = 256

// MaxRetryFor is the longest PublisherConfig.RetryFor. The daemon forgets
// an id after its dedup window (2 minutes, or --retention if shorter): a
// retry later than that could store an event a second time. An attempt
// started before RetryFor ends may run AttemptTimeout longer.
const MaxRetryFor = 90 * time.Second

// PublisherConfig configures a Publisher. URL, Org and one of Token and
// TokenFunc are required; every other zero value means the default its
// comment states.
type PublisherConfig struct {
	// URL is the daemon's base URL, http://host:port (or https://). The
	// Publisher posts to URL/v2/realtime/orgs/{Org}/events.
	URL string
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
}

func (c *PublisherConfig) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: URL must be http(s)://host:port", ErrInvalidConfig)
	case c.Org == "":
		return fmt.Errorf("%w: Org is empty", ErrInvalidConfig)
	case c.Token == "" && c.TokenFunc == nil:
		return fmt.Errorf("%w: neither Token nor TokenFunc is set", ErrInvalidConfig)
	case c.AttemptTimeout < 0, c.RetryFor < 0, c.BackoffMin < 0, c.BackoffMax < 0:
		return fmt.Errorf("%w: a negative duration", ErrInvalidConfig)
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
	if c.HTTPClient == nil {
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
	// Duplicate: the daemon had already stored this id (200), typically
	// because an earlier attempt reached it before failing; Seq is the
	// first seq.
	Duplicate bool
	// Attempts is the number of requests sent.
	Attempts int
}

// BatchAck is the answer to a published batch.
type BatchAck struct {
	// IDs are the ids the events were sent with, in order.
	IDs []string
	// Seqs are the events' seqs, in order: new events get consecutive
	// seqs, events already stored their first seq.
	Seqs []uint64
	// Duplicate: every event of the batch had already been stored (200).
	Duplicate bool
	// Attempts is the number of requests sent.
	Attempts int
}

// Publisher publishes events to one org over HTTP. Every event it sends
// carries an id, so it retries transient failures (503, 5xx from a proxy,
// network errors, timeouts) with the same ids and backoff: a retry of an
// event that the daemon stored before the failure gets its first seq back
// instead of storing it again. A 4xx is never retried. Safe for concurrent
// use; it starts no goroutine of its own, but its HTTP client keeps idle
// keep-alive connections (and their goroutines) until Close.
type Publisher struct {
	cfg      PublisherConfig
	endpoint string
	randN    func(int64) int64
}

// NewPublisher checks cfg and returns a Publisher.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Publisher{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.URL, "/") + "/v2/realtime/orgs/" + url.PathEscape(cfg.Org) + "/events",
		randN:    rand.Int64N,
	}, nil
}

// Close closes the idle connections of the HTTP client. Publishing after
// Close still works (on new connections).
func (p *Publisher) Close() { p.cfg.HTTPClient.CloseIdleConnections() }

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
// it. On error, errors.Is tells ErrPublishRefused (a 4xx: fix the request)
// from ErrOutcomeUnknown (retries ran out: publish again with the same
// ID, PublishError.IDs[0]) and ErrInvalidMessage (nothing was sent).
func (p *Publisher) Publish(ctx context.Context, m Message) (Ack, error) {
	ev, err := p.wire(m)
	if err != nil {
		return Ack{}, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return Ack{}, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	status, a, attempts, err := p.send(ctx, body, []string{ev.ID})
	if err != nil {
		return Ack{}, err
	}
	if a.Seq == nil {
		return Ack{}, fmt.Errorf("client: publish answered %d without a seq", status)
	}
	return Ack{ID: ev.ID, Seq: *a.Seq, Duplicate: status == http.StatusOK, Attempts: attempts}, nil
}

// PublishBatch sends up to MaxBatch events in one request and returns their
// seqs once the daemon has stored them all. Errors as for Publish.
func (p *Publisher) PublishBatch(ctx context.Context, ms []Message) (BatchAck, error) {
	if len(ms) == 0 || len(ms) > MaxBatch {
		return BatchAck{}, fmt.Errorf("%w: a batch holds 1 to %d events, not %d", ErrInvalidMessage, MaxBatch, len(ms))
	}
	evs := make([]wireEvent, len(ms))
	ids := make([]string, len(ms))
	for i, m := range ms {
		ev, err := p.wire(m)
		if err != nil {
			return BatchAck{}, fmt.Errorf("events[%d]: %w", i, err)
		}
		evs[i], ids[i] = ev, ev.ID
	}
	body, err := json.Marshal(struct {
		Events []wireEvent `json:"events"`
	}{evs})
	if err != nil {
		return BatchAck{}, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	status, a, attempts, err := p.send(ctx, body, ids)
	if err != nil {
		return BatchAck{}, err
	}
	if len(a.Seqs) != len(ms) {
		return BatchAck{}, fmt.Errorf("client: publish answered %d with %d seqs for %d events", status, len(a.Seqs), len(ms))
	}
	return BatchAck{IDs: ids, Seqs: a.Seqs, Duplicate: status == http.StatusOK, Attempts: attempts}, nil
}

// wire gives m its id (a fresh one if it has none) and checks what can be
// checked without the daemon.
func (p *Publisher) wire(m Message) (wireEvent, error) {
	if m.Topic == "" {
		return wireEvent{}, fmt.Errorf("%w: no topic", ErrInvalidMessage)
	}
	if m.ID == "" {
		m.ID = NewID()
	} else if err := validID(m.ID); err != nil {
		return wireEvent{}, err
	}
	return wireEvent(m), nil
}

// send posts body until it gets a 2xx, a 4xx, or RetryFor (or ctx) ends.
// body is the same bytes, ids included, on every attempt: that is what
// makes a retry safe.
func (p *Publisher) send(ctx context.Context, body []byte, ids []string) (int, answer, int, error) {
	deadline := time.Now().Add(p.cfg.RetryFor)
	last := &PublishError{IDs: ids}
	for attempt := 0; ; attempt++ {
		token := p.cfg.Token
		if p.cfg.TokenFunc != nil {
			var err error
			if token, err = p.cfg.TokenFunc(ctx); err != nil {
				if attempt == 0 {
					return 0, answer{}, 0, fmt.Errorf("client: publish token: %w", err)
				}
				last.Err = errors.Join(last.Err, fmt.Errorf("token: %w", err))
				return 0, answer{}, 0, last
			}
		}
		status, a, err := p.attempt(ctx, body, token)
		last.Attempts = attempt + 1
		switch {
		case err == nil && status/100 == 2:
			return status, a, attempt + 1, nil
		case err == nil && !retryableStatus(status):
			last.Status, last.Code, last.Message, last.Err, last.refused = status, a.Code, a.Error, nil, true
			return 0, answer{}, 0, last
		case err == nil:
			last.Status, last.Code, last.Message, last.Err = status, a.Code, a.Error, nil
		default:
			last.Status, last.Code, last.Message, last.Err = 0, "", "", err
		}
		if ctx.Err() != nil {
			last.Err = errors.Join(last.Err, ctx.Err())
			return 0, answer{}, 0, last
		}
		wait := fullJitter(p.cfg.BackoffMin, p.cfg.BackoffMax, attempt, p.randN)
		if time.Now().Add(wait).After(deadline) {
			return 0, answer{}, 0, last
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			last.Err = errors.Join(last.Err, ctx.Err())
			return 0, answer{}, 0, last
		case <-t.C:
		}
	}
}

// attempt sends one request. err means no usable answer: a network error,
// a timeout, a body cut short, or a 2xx without seqs. Any other status
// counts as that status, with or without a JSON body.
func (p *Publisher) attempt(ctx context.Context, body []byte, token string) (int, answer, error) {
	actx, cancel := context.WithTimeout(ctx, p.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, answer{}, redact(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		// The status came but the body did not: for a 2xx the seqs are
		// lost, so it counts as no answer (the retry gets them, 200).
		return 0, answer{}, fmt.Errorf("read answer: %w", redact(err))
	}
	var a answer
	_ = json.Unmarshal(b, &a) // a refusal without a JSON body keeps its status
	if resp.StatusCode/100 == 2 && a.Seq == nil && a.Seqs == nil {
		return 0, answer{}, fmt.Errorf("client: %d answer without seqs: %.200s", resp.StatusCode, b)
	}
	return resp.StatusCode, a, nil
}

// redact drops the URL from a *url.Error: the endpoint carries no token, but
// the message reads better without the method and address twice.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
