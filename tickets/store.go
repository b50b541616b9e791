package tickets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/transport/auth"
)

// Defaults of Config.
const (
	// DefaultTTL is how long a ticket may wait for its stream: long enough
	// for a browser to open a socket, short enough that a ticket a proxy
	// logged is worthless by the time anyone reads the log.
	DefaultTTL = 30 * time.Second
	// DefaultOpTimeout bounds one KV operation.
	DefaultOpTimeout = 5 * time.Second
	// minMaxAge is the least MaxAge of the bucket: JetStream drops a
	// ticket nobody redeemed at most this long after it was issued.
	minMaxAge = time.Minute
)

// Config configures a Store.
type Config struct {
	// Conn is the daemon's NATS connection; JetStream must be reachable.
	// Required. The Store does not close it.
	Conn *nats.Conn
	// Replicas is the bucket's replication factor (--replicas). Zero
	// means 1.
	Replicas int
	// TTL is how long a ticket stays good. Zero means DefaultTTL.
	TTL time.Duration
	// OpTimeout bounds opening the bucket once. Zero means
	// DefaultOpTimeout.
	OpTimeout time.Duration
	// Now is the clock of ticket expiry. Nil means time.Now.
	Now func() time.Time
}

// Store issues and redeems tickets. Its methods are safe for concurrent
// use; it holds no goroutine and needs no closing.
type Store struct {
	cfg Config
	kv  jetstream.KeyValue
}

// Open opens (creating it if needed) the ticket bucket, retrying short
// attempts until ctx ends: a cluster that is forming answers late.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Conn == nil {
		return nil, errors.New("tickets: Config.Conn is required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("tickets: jetstream: %w", err)
	}
	kcfg := jetstream.KeyValueConfig{
		Bucket:      persistence.TicketBucket,
		Description: "orgstream connect tickets: single-use, short-lived",
		History:     1,
		Storage:     jetstream.MemoryStorage,
		Replicas:    cfg.Replicas,
		TTL:         max(minMaxAge, 2*cfg.TTL),
	}
	for {
		actx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
		kv, err := js.CreateOrUpdateKeyValue(actx, kcfg)
		cancel()
		if err == nil {
			return &Store{cfg: cfg, kv: kv}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("tickets: bucket %s: %w (last error: %w)", persistence.TicketBucket, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TTL is how long a ticket of this store stays good.
func (s *Store) TTL() time.Duration { return s.cfg.TTL }

// Issue stores claims under a fresh ticket and returns it.
func (s *Store) Issue(ctx context.Context, c auth.Claims) (string, error) {
	t, err := newTicket()
	if err != nil {
		return "", err
	}
	key, _ := ParseTicket(t)
	b, err := encodeValue(c, s.cfg.Now().Add(s.cfg.TTL))
	if err != nil {
		return "", err
	}
	// Create, not Put: a key that exists (2^-128) is an error, never a
	// ticket that opens someone else's stream.
	if _, err := s.kv.Create(ctx, key, b); err != nil {
		return "", fmt.Errorf("tickets: store: %w", err)
	}
	return t, nil
}

// Redeem uses the ticket t: it returns the claims it was issued for, once.
// A malformed, unknown, used or expired ticket is ErrInvalid; any other
// error is the store's (the caller answers 503).
func (s *Store) Redeem(ctx context.Context, t string) (auth.Claims, error) {
	key, err := ParseTicket(t)
	if err != nil {
		return auth.Claims{}, err
	}
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return auth.Claims{}, ErrInvalid
	}
	if err != nil {
		return auth.Claims{}, fmt.Errorf("tickets: read: %w", err)
	}
	// Only the redeemer whose delete finds the revision it read wins; a
	// concurrent one finds the delete marker's revision instead.
	if err := s.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSequence(err) {
			return auth.Claims{}, ErrInvalid
		}
		return auth.Claims{}, fmt.Errorf("tickets: delete: %w", err)
	}
	c, until, err := decodeValue(e.Value())
	if err != nil {
		return auth.Claims{}, err
	}
	if !s.cfg.Now().Before(until) {
		return auth.Claims{}, ErrInvalid
	}
	return c, nil
}

// isWrongSequence reports a JetStream "wrong last sequence" refusal (code
// 10071, or 10164 on a replicated stream), what a delete with a stale
// LastRevision gets, in case the client library did not map it to
// ErrKeyRevisionMismatch.
func isWrongSequence(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
