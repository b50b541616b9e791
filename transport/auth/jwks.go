package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// The states of a JWKS, as JWKSStatus.State and /readyz show them.
const (
	// JWKSOK: the last fetch succeeded.
	JWKSOK = "ok"
	// JWKSStale: the last fetch failed; the keys of an earlier one are used.
	JWKSStale = "stale"
	// JWKSUnavailable: no fetch has succeeded yet; no key of the JWKS is
	// known, so no token signed by the identity provider verifies.
	JWKSUnavailable = "unavailable"
)

// JWKSStatus describes a Verifier's JWKS for monitoring. Its text never
// holds credentials: the URL is shown without user info or query.
type JWKSStatus struct {
	// URL is the JWKS URL, redacted; empty when no JWKS is configured.
	URL string
	// State is JWKSOK, JWKSStale or JWKSUnavailable; empty when no JWKS is
	// configured.
	State string
	// Keys is how many usable keys the cached set holds.
	Keys int
	// LastAttempt and LastSuccess are when the last fetch and the last
	// successful fetch ended; zero means never.
	LastAttempt time.Time
	LastSuccess time.Time
	// LastError says why the last fetch failed; empty after a success.
	LastError string
	// Failures counts the failed fetches since the start.
	Failures uint64
}

// jwksSource keeps the keys of a JWKS URL: fetched in the background at the
// start and every refresh interval (sooner, with a backoff, after a
// failure), and on demand when a token names a kid the cached set lacks, at
// most once per minGap whatever the number of such tokens. A failed fetch
// leaves the cached set in force; a successful one replaces it whole, so a
// key removed from the JWKS stops verifying at the next fetch.
//
// keyfunc/v3 and jwkset turn the JSON into keys and choose a key by kid
// (with the JWK's own alg and use checks). The fetch and its schedule are
// ours, not jwkset's HTTP storage: its refresh goroutine ends with its
// context but cannot be waited for (Close must wait; goleak checks it), it
// reads a body of any size, it reports failures but not successes (which
// /readyz and the metrics need), and on an unknown kid it makes the request
// wait for its rate limiter, so a flood of bad tokens would hold requests.
// Here a request whose kid is unknown fetches at once when minGap has passed,
// waits for a fetch already running, and otherwise is refused at once.
type jwksSource struct {
	url      string // may hold credentials: never logged, never in errors
	redacted string
	client   *http.Client
	owned    bool // client was made here: close drops its idle connections
	timeout  time.Duration
	refresh  time.Duration
	minGap   time.Duration
	maxBytes int64
	log      *zap.Logger

	set atomic.Pointer[jwksSet] // nil until a fetch succeeds

	ctx    context.Context // cancelled by close: aborts fetches
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	mu      sync.Mutex
	running chan struct{} // closed when the fetch in flight ends; nil if none
	started time.Time     // when the last fetch started
	fails   int           // consecutive failed fetches
	status  JWKSStatus
}

// jwksSet is one fetched JWK set.
type jwksSet struct {
	kf   keyfunc.Keyfunc
	keys int
}

func newJWKSSource(cfg *VerifierConfig) (*jwksSource, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: JWKS URL must be an absolute http or https URL", ErrVerifierConfig)
	}
	client, owned := cfg.HTTPClient, false
	if client == nil {
		// Its own transport, so that close can drop its idle connections.
		client, owned = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, true
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &jwksSource{
		url:      cfg.JWKSURL,
		redacted: redactURL(u),
		client:   client,
		owned:    owned,
		timeout:  cfg.JWKSTimeout,
		refresh:  cfg.JWKSRefresh,
		minGap:   cfg.JWKSMinRefetch,
		maxBytes: cfg.JWKSMaxBytes,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	j.status = JWKSStatus{URL: j.redacted, State: JWKSUnavailable}
	go j.run()
	return j, nil
}

// redactURL drops user info, query and fragment, which may hold secrets.
func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// run fetches the set at the start and then whenever it is due, until
// close.
func (j *jwksSource) run() {
	defer close(j.done)
	for {
		wait := j.untilDue()
		if wait <= 0 {
			j.fetchOrJoin()
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-j.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// untilDue is the time until the next scheduled fetch: refresh after a
// success, after a failure minGap doubled per consecutive failure, up to
// refresh.
func (j *jwksSource) untilDue() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ctx.Err() != nil {
		return time.Hour // run sees the cancelled context
	}
	if j.started.IsZero() {
		return 0
	}
	every := j.refresh
	if j.fails > 0 {
		every = j.minGap
		for i := 1; i < j.fails && every < j.refresh; i++ {
			every *= 2
		}
		every = min(every, j.refresh)
	}
	return time.Until(j.started.Add(every))
}

// fetchOrJoin fetches now, or waits for the fetch already running.
func (j *jwksSource) fetchOrJoin() {
	j.mu.Lock()
	if ch := j.running; ch != nil {
		j.mu.Unlock()
		j.wait(ch)
		return
	}
	ch := j.begin()
	j.mu.Unlock()
	j.fetchAndStore(ch)
}

// refetch is the on-demand fetch for a token whose kid the cached set
// lacks. It returns true when the caller should look again: a fetch ran or
// was joined, or the rate limit held one back (the last fetch started less
// than minGap ago) — that fetch may have ended between the caller's look
// and this call, with the kid in it. False when the source is closed.
func (j *jwksSource) refetch() bool {
	j.mu.Lock()
	if j.ctx.Err() != nil {
		j.mu.Unlock()
		return false
	}
	if ch := j.running; ch != nil {
		j.mu.Unlock()
		j.wait(ch)
		return true
	}
	if !j.started.IsZero() && time.Since(j.started) < j.minGap {
		j.mu.Unlock()
		return true // no fetch; one more look at what the last one stored
	}
	ch := j.begin()
	j.mu.Unlock()
	j.fetchAndStore(ch)
	return true
}

// begin marks a fetch as running; j.mu is held.
func (j *jwksSource) begin() chan struct{} {
	ch := make(chan struct{})
	j.running = ch
	j.started = time.Now()
	return ch
}

func (j *jwksSource) wait(ch chan struct{}) {
	select {
	case <-ch:
	case <-j.ctx.Done():
	}
}

// fetchAndStore runs one fetch, stores its set or its failure, and closes
// ch.
func (j *jwksSource) fetchAndStore(ch chan struct{}) {
	set, err := j.fetch()
	now := time.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	defer close(ch)
	j.running = nil
	st := &j.status
	st.LastAttempt = now
	if err != nil {
		if j.ctx.Err() != nil {
			return // closing: not a failure of the JWKS
		}
		j.fails++
		st.Failures++
		st.LastError = err.Error()
		if st.LastSuccess.IsZero() {
			st.State = JWKSUnavailable
		} else {
			st.State = JWKSStale
		}
		// The first failure after a success is news; the rest are not.
		level := zap.DebugLevel
		if j.fails == 1 {
			level = zap.WarnLevel
		}
		j.log.Log(level, "JWKS fetch failed; cached keys stay in force",
			zap.String("url", j.redacted), zap.String("state", st.State),
			zap.Int("cached_keys", st.Keys), zap.Int("consecutive_failures", j.fails),
			zap.String("error", st.LastError))
		return
	}
	j.set.Store(set)
	if j.fails > 0 || st.LastSuccess.IsZero() {
		j.log.Info("JWKS fetched", zap.String("url", j.redacted), zap.Int("keys", set.keys))
	}
	j.fails = 0
	st.LastSuccess = now
	st.LastError = ""
	st.State = JWKSOK
	st.Keys = set.keys
}

// fetch GETs the JWKS within timeout and maxBytes and parses it.
func (j *jwksSource) fetch() (*jwksSet, error) {
	ctx, cancel := context.WithTimeout(j.ctx, j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: bad request", j.redacted)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		return nil, fmt.Errorf("GET %s: %w", j.redacted, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection
		return nil, fmt.Errorf("GET %s: status %d", j.redacted, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, j.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", j.redacted, err)
	}
	if int64(len(body)) > j.maxBytes {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", j.redacted, j.maxBytes)
	}
	set, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", j.redacted, err)
	}
	return set, nil
}

// ErrJWKS wraps what is wrong with a JWK set document.
var ErrJWKS = errors.New("auth: bad JWK set")

// parseJWKS reads a JWK set (RFC 7517) with jwkset. Keys that no accepted
// algorithm uses (encryption keys, symmetric keys, other curves) and keys
// jwkset refuses are skipped: an identity provider may publish them beside
// its signing keys. A set without any usable key is refused (so the cached
// one stays), unless it is explicitly empty: {"keys":[]} revokes every key.
func parseJWKS(body []byte) (*jwksSet, error) {
	var m jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: not JSON of a JWK set", ErrJWKS)
	}
	if m.Keys == nil {
		return nil, fmt.Errorf(`%w: no "keys" array`, ErrJWKS)
	}
	store := jwkset.NewMemoryStorage()
	n := 0
	for _, k := range m.Keys {
		if k.USE != "" && k.USE != jwkset.UseSig {
			continue
		}
		jwk, err := jwkset.NewJWKFromMarshal(k, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue
		}
		if _, err := keyAlg(jwk.Key()); err != nil {
			continue
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			continue
		}
		n++
	}
	if n == 0 && len(m.Keys) > 0 {
		return nil, fmt.Errorf("%w: none of its %d keys is an RS256, ES256 or EdDSA signing key", ErrJWKS, len(m.Keys))
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Storage:      store,
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	return &jwksSet{kf: kf, keys: n}, nil
}

// keys returns the cached keys that may verify tok (by its kid, or all of
// them when it has none), and whether tok names a kid the cached set lacks
// (always true before the first successful fetch).
func (j *jwksSource) keys(tok *jwt.Token) (keys []any, unknownKID bool) {
	set := j.set.Load()
	if set == nil {
		return nil, true
	}
	got, err := set.kf.Keyfunc(tok)
	if err != nil {
		return nil, errors.Is(err, jwkset.ErrKeyNotFound)
	}
	if ks, ok := got.(jwt.VerificationKeySet); ok {
		keys = make([]any, 0, len(ks.Keys))
		for _, k := range ks.Keys {
			keys = append(keys, k)
		}
		return keys, false
	}
	return []any{got}, false
}

// Status returns a copy of the source's status.
func (j *jwksSource) Status() JWKSStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status
}

// close stops the background fetches, aborts the one in flight and waits
// for run to return. Safe to call twice.
func (j *jwksSource) close() {
	j.cancel()
	<-j.done
	if j.owned {
		j.client.CloseIdleConnections()
	}
}
