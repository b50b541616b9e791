package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// patience bounds the polls of these tests: generous, the box is shared.
const patience = 30 * time.Second

// jwksServer is an identity provider's JWKS endpoint on loopback. Its key
// set changes while it runs; it counts the requests it gets.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64

	mu     sync.Mutex
	keys   map[string]testKey // by kid
	status int                // answered instead of the set when not 0
	raw    string             // answered instead of the set when not ""
	hang   bool               // hold each request until the client gives up
}

// startJWKSServer starts the server for t (which must have called
// noLeaks), closed when t ends.
func startJWKSServer(t *testing.T, keys map[string]testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: map[string]testKey{}}
	for kid, k := range keys {
		s.keys[kid] = k
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	status, raw, hang := s.status, s.raw, s.hang
	keys := make(map[string]testKey, len(s.keys))
	for kid, k := range s.keys {
		keys[kid] = k
	}
	s.mu.Unlock()
	switch {
	case hang:
		<-r.Context().Done()
		return
	case status != 0:
		http.Error(w, "unavailable", status)
		return
	case raw != "":
		_, _ = w.Write([]byte(raw))
		return
	}
	// The set is written by jwkset, as an identity provider's library
	// would, never by hand.
	store := jwkset.NewMemoryStorage()
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: kid, ALG: jwkset.ALG(k.alg), USE: jwkset.UseSig,
		}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := store.KeyWrite(r.Context(), jwk); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	body, err := store.JSONPublic(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// noLeaks makes t fail if any goroutine outlives it; call it first, so
// that the check runs after every other cleanup (the server, the Verifier).
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// jwksVerifier starts a Verifier for t, closed when t ends.
func jwksVerifier(t *testing.T, cfg VerifierConfig) *Verifier {
	t.Helper()
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// eventually polls cond until it holds or patience runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(
				"not within %s: %s",
				patience, what,
			)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func verifies(v *Verifier, tok string) bool {
	_, err := v.Verify(tok, time.Now())
	return err == nil
}

// claimsNow are good claims valid now (the JWKS tests run on the real
// clock).
func claimsNow() map[string]any {
	return claimsMap("sub", "alice", "org", "acme", "exp", time.Now().Add(time.Hour).Unix())
}

// Keys are chosen by kid; a kid that appears is fetched on demand, a kid
// removed stops verifying at the next refresh. For each algorithm.
func TestJWKSRotation(t *testing.T) {
	keys := testKeys(t)
	for _, alg := range publicAlgs {
		t.Run(alg, func(t *testing.T) {
			oldKey, newKey := keys[alg][0], keys[alg][1]
			noLeaks(t)
			srv := startJWKSServer(t, map[string]testKey{"old": oldKey})
			v := jwksVerifier(t, VerifierConfig{
				JWKSURL: srv.URL + "/jwks", JWKSRefresh: 200 * time.Millisecond, JWKSMinRefetch: 20 * time.Millisecond,
			})
			oldTok, newTok := oldKey.sign(t, claimsNow(), "old"), newKey.sign(t, claimsNow(), "new")

			// The first Verify waits for the first fetch.
			if _, err := v.Verify(oldTok, time.Now()); err != nil {
				t.Fatalf(
					"old key at the start: %v",
					err,
				)
			}
			if verifies(v, newTok) {
				t.Fatal("a kid the JWKS lacks verified")
			}
			// The new key signs with the old kid: the kid picks the old key.
			if verifies(v, newKey.sign(t, claimsNow(), "old")) {
				t.Fatal("a token verified with the key of another kid")
			}

			srv.set(func(s *jwksServer) { s.keys["new"] = newKey })
			eventually(t, "the new kid verifies", func() bool { return verifies(v, newTok) })
			if !verifies(v, oldTok) {
				t.Fatal("the old kid stopped verifying while still published")
			}

			srv.set(func(s *jwksServer) { delete(s.keys, "old") })
			eventually(t, "the removed kid is refused", func() bool { return !verifies(v, oldTok) })
			_, err := v.Verify(oldTok, time.Now())
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf(
					"removed kid: err = %v, want ErrInvalid",
					err,
				)
			}
			checkNoLeak(t, err, oldTok)
			if !verifies(v, newTok) {
				t.Fatal("the new kid stopped verifying")
			}
			if st := v.JWKSStatus(); st.State != JWKSOK || st.Keys != 1 || st.LastError != "" {
				t.Fatalf(
					"status %+v, want ok with 1 key",
					st,
				)
			}
		})
	}
}

// A token without kid is tried with every key of its type.
func TestJWKSTokenWithoutKid(t *testing.T) {
	keys := testKeys(t)
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": keys[algEdDSA][0], "b": keys[algEdDSA][1], "c": keys[algRS256][0]})
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL})
	for _, k := range []testKey{keys[algEdDSA][0], keys[algEdDSA][1], keys[algRS256][0]} {
		if _, err := v.Verify(k.sign(t, claimsNow(), ""), time.Now()); err != nil {
			t.Fatalf(
				"%s without kid: %v",
				k.alg, err,
			)
		}
	}
	if verifies(v, keys[algES256][0].sign(t, claimsNow(), "")) {
		t.Fatal("an ES256 token verified without any EC key")
	}
}

// Tokens with unknown kids make the JWKS be fetched at most once per
// JWKSMinRefetch, however many arrive.
func TestJWKSRefetchRateLimit(t *testing.T) {
	keys := testKeys(t)
	const gap = 300 * time.Millisecond
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": keys[algEdDSA][0]})
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSMinRefetch: gap})
	eventually(t, "the first fetch", func() bool { return v.JWKSStatus().State == JWKSOK })

	before := srv.requests.Load()
	start := time.Now()
	var refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Since(start) < 4*gap; i++ {
				tok := keys[algEdDSA][1].sign(t, claimsNow(), fmt.Sprintf("flood-%d-%d", g, i))
				if _, err := v.Verify(tok, time.Now()); errors.Is(err, ErrInvalid) {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fetches := srv.requests.Load() - before
	// Fetches start at least gap apart, the first gap after the first
	// fetch: within elapsed, at most elapsed/gap + 1 of them.
	most := int64(elapsed/gap) + 1
	t.Logf("%d tokens with unknown kids in %s: %d fetches (at most %d allowed)", refused.Load(), elapsed, fetches, most)
	if fetches < 1 || fetches > most {
		t.Fatalf(
			"%d fetches in %s, want 1 to %d",
			fetches, elapsed, most,
		)
	}
	if refused.Load() <= most {
		t.Fatalf(
			"only %d tokens were tried; the flood did not flood",
			refused.Load(),
		)
	}
}

// Requests with a new kid that arrive together share one fetch.
func TestJWKSRefetchShared(t *testing.T) {
	keys := testKeys(t)
	const gap = 100 * time.Millisecond
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": keys[algES256][0]})
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSMinRefetch: gap})
	eventually(t, "the first fetch", func() bool { return v.JWKSStatus().State == JWKSOK })
	srv.set(func(s *jwksServer) { s.keys["b"] = keys[algES256][1] })
	time.Sleep(2 * gap) // past the rate limit of the first fetch
	before := srv.requests.Load()
	tok := keys[algES256][1].sign(t, claimsNow(), "b")
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = v.Verify(tok, time.Now()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf(
				"request %d: %v",
				i, err,
			)
		}
	}
	if n := srv.requests.Load() - before; n != 1 {
		t.Fatalf(
			"%d fetches for one new kid, want 1",
			n,
		)
	}
}

// A JWKS that cannot be fetched leaves the cached keys in force, and the
// status says so; it recovers when the server does.
func TestJWKSServerDown(t *testing.T) {
	keys := testKeys(t)
	k := keys[algRS256][0]
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": k})
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: 50 * time.Millisecond, JWKSMinRefetch: 20 * time.Millisecond})
	tok := k.sign(t, claimsNow(), "a")
	eventually(t, "the first fetch", func() bool { return v.JWKSStatus().State == JWKSOK })
	ok := v.JWKSStatus().LastSuccess

	srv.set(func(s *jwksServer) { s.status = http.StatusServiceUnavailable })
	eventually(t, "a failed fetch", func() bool { return v.JWKSStatus().State == JWKSStale })
	st := v.JWKSStatus()
	if st.Failures == 0 || !strings.Contains(st.LastError, "status 503") || st.Keys != 1 ||
		!st.LastSuccess.Equal(ok) || !st.LastAttempt.After(ok) {
		t.Fatalf(
			"status %+v",
			st,
		)
	}
	if _, err := v.Verify(tok, time.Now()); err != nil {
		t.Fatalf(
			"cached key while the JWKS is down: %v",
			err,
		)
	}
	if verifies(v, keys[algRS256][1].sign(t, claimsNow(), "b")) {
		t.Fatal("an unknown kid verified while the JWKS is down")
	}
	if !verifies(v, tok) {
		t.Fatal("a failed on-demand fetch dropped the cached keys")
	}

	srv.set(func(s *jwksServer) { s.status = 0 })
	eventually(t, "recovery", func() bool { return v.JWKSStatus().State == JWKSOK })
	if st := v.JWKSStatus(); st.LastError != "" || !st.LastSuccess.After(ok) {
		t.Fatalf(
			"status after recovery %+v",
			st,
		)
	}
}

// Until a fetch succeeds no token of the identity provider verifies; HS256
// tokens do.
func TestJWKSNeverFetched(t *testing.T) {
	keys := testKeys(t)
	k := keys[algEdDSA][0]
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": k})
	srv.set(func(s *jwksServer) { s.status = http.StatusBadGateway })
	v := jwksVerifier(t, VerifierConfig{Secret: testSecret, JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSMinRefetch: 20 * time.Millisecond})
	tok := k.sign(t, claimsNow(), "a")
	eventually(t, "a failed fetch", func() bool { return v.JWKSStatus().Failures > 0 })
	st := v.JWKSStatus()
	if st.State != JWKSUnavailable || !st.LastSuccess.IsZero() || st.Keys != 0 || !strings.Contains(st.LastError, "status 502") {
		t.Fatalf(
			"status %+v",
			st,
		)
	}
	if _, err := v.Verify(tok, time.Now()); !errors.Is(err, ErrInvalid) {
		t.Fatalf(
			"err = %v, want ErrInvalid",
			err,
		)
	}
	if !verifies(v, rawToken(hs256, claimsNow(), testSecret)) {
		t.Fatal("HS256 refused while the JWKS is unavailable")
	}
	srv.set(func(s *jwksServer) { s.status = 0 })
	eventually(t, "the token verifies once the JWKS answers", func() bool { return verifies(v, tok) })
	if st := v.JWKSStatus(); st.State != JWKSOK {
		t.Fatalf(
			"status %+v",
			st,
		)
	}
}

// Each way a fetch can fail is a failure with a reason, never a crash nor
// an empty key set.
func TestJWKSBadAnswers(t *testing.T) {
	keys := testKeys(t)
	cases := []struct {
		name   string
		set    func(s *jwksServer)
		cfg    func(c *VerifierConfig)
		reason string // in LastError
	}{
		{name: "500", set: func(s *jwksServer) { s.status = 500 }, reason: "status 500"},
		{name: "not JSON", set: func(s *jwksServer) { s.raw = "<html>login</html>" }, reason: "not JSON"},
		{name: "no keys member", set: func(s *jwksServer) { s.raw = `{"kid":"a"}` }, reason: `no "keys"`},
		{
			name: "only unusable keys",
			set: func(s *jwksServer) {
				s.raw = `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"tiny"}]}`
			},
			reason: "none of its 2 keys",
		},
		{
			name:   "larger than the limit",
			set:    func(s *jwksServer) { s.raw = `{"keys":[],"pad":"` + strings.Repeat("x", 2048) + `"}` },
			cfg:    func(c *VerifierConfig) { c.JWKSMaxBytes = 1024 },
			reason: "larger than 1024 bytes",
		},
		{
			name:   "no answer in time",
			set:    func(s *jwksServer) { s.hang = true },
			cfg:    func(c *VerifierConfig) { c.JWKSTimeout = 100 * time.Millisecond },
			reason: "deadline exceeded",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			srv := startJWKSServer(t, map[string]testKey{"a": keys[algEdDSA][0]})
			srv.set(tc.set)
			cfg := VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: time.Hour}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			v := jwksVerifier(t, cfg)
			eventually(t, "a failed fetch", func() bool { return v.JWKSStatus().Failures > 0 })
			st := v.JWKSStatus()
			if st.State != JWKSUnavailable || !strings.Contains(st.LastError, tc.reason) {
				t.Fatalf(
					"status %+v, want unavailable because %q",
					st, tc.reason,
				)
			}
		})
	}
}

// {"keys":[]} is a set without keys, not a failure: it revokes them all.
func TestJWKSEmptySetRevokes(t *testing.T) {
	k := testKeys(t)[algEdDSA][0]
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": k})
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: 50 * time.Millisecond, JWKSMinRefetch: 20 * time.Millisecond})
	tok := k.sign(t, claimsNow(), "a")
	eventually(t, "the key verifies", func() bool { return verifies(v, tok) })
	srv.set(func(s *jwksServer) { s.raw = `{"keys":[]}` })
	eventually(t, "the key is revoked", func() bool { return !verifies(v, tok) })
	if st := v.JWKSStatus(); st.State != JWKSOK || st.Keys != 0 {
		t.Fatalf(
			"status %+v, want ok with no key",
			st,
		)
	}
}

// Neither the status nor the logs show the URL's credentials or query.
func TestJWKSRedactsURL(t *testing.T) {
	noLeaks(t)
	srv := startJWKSServer(t, nil)
	srv.set(func(s *jwksServer) { s.status = http.StatusUnauthorized })
	core, logs := observer.New(zap.DebugLevel)
	u := strings.Replace(srv.URL, "http://", "http://idp-user:pa55w0rd@", 1) + "/jwks?api_key=s3cr3t#frag"
	v := jwksVerifier(t, VerifierConfig{JWKSURL: u, JWKSRefresh: time.Hour, Logger: zap.New(core)})
	eventually(t, "a failed fetch", func() bool { return v.JWKSStatus().Failures > 0 })
	st := v.JWKSStatus()
	if st.URL != srv.URL+"/jwks" {
		t.Fatalf(
			"status URL %q, want %q",
			st.URL, srv.URL+"/jwks",
		)
	}
	texts := []string{fmt.Sprintf("%+v", st)}
	for _, e := range logs.All() {
		texts = append(texts, e.Message)
		for k, val := range e.ContextMap() {
			texts = append(texts, k+"="+fmt.Sprint(val))
		}
	}
	if logs.Len() == 0 {
		t.Fatal("the failure was not logged")
	}
	for _, s := range texts {
		for _, secret := range []string{"pa55w0rd", "idp-user", "s3cr3t", "frag"} {
			if strings.Contains(s, secret) {
				t.Fatalf(
					"%q shows %q",
					s, secret,
				)
			}
		}
	}
}

// Close ends the fetcher, even with a fetch in flight, and is safe twice.
func TestJWKSCloseDuringFetch(t *testing.T) {
	noLeaks(t)
	srv := startJWKSServer(t, nil)
	srv.set(func(s *jwksServer) { s.hang = true })
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSTimeout: time.Hour})
	eventually(t, "a fetch in flight", func() bool { return srv.requests.Load() > 0 })
	v.Close()
	v.Close()
	if st := v.JWKSStatus(); st.Failures != 0 {
		t.Fatalf(
			"closing counted as a failure: %+v",
			st,
		)
	}
	// After Close no fetch starts: an unknown kid is refused at once.
	n := srv.requests.Load()
	k := testKeys(t)[algEdDSA][0]
	if verifies(v, k.sign(t, claimsNow(), "a")) {
		t.Fatal("verified with no key")
	}
	if srv.requests.Load() != n {
		t.Fatal("a fetch started after Close")
	}
}

// The HTTP client given is used (an operator's proxy or CA settings).
func TestJWKSHTTPClient(t *testing.T) {
	k := testKeys(t)[algRS256][0]
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": k})
	var used atomic.Int64
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return tr.RoundTrip(r)
	})}
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, HTTPClient: client})
	if _, err := v.Verify(k.sign(t, claimsNow(), "a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if used.Load() == 0 {
		t.Fatal("the given client was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func FuzzParseJWKS(f *testing.F) {
	keys := testKeys(f)
	store := jwkset.NewMemoryStorage()
	for kid, k := range map[string]testKey{"r": keys[algRS256][0], "e": keys[algES256][0], "d": keys[algEdDSA][0]} {
		jwk, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		if err != nil {
			f.Fatal(err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			f.Fatal(err)
		}
	}
	good, err := store.JSONPublic(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(good))
	f.Add(`{"keys":[]}`)
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"x","use":"enc"}]}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, body string) {
		set, err := parseJWKS([]byte(body))
		if err != nil {
			if !errors.Is(err, ErrJWKS) {
				t.Fatalf(
					"error %v is not ErrJWKS",
					err,
				)
			}
			return
		}
		all, err := set.kf.Storage().KeyReadAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != set.keys {
			t.Fatalf(
				"%d keys stored, %d counted",
				len(all), set.keys,
			)
		}
		for _, jwk := range all {
			if _, err := keyAlg(jwk.Key()); err != nil {
				t.Fatalf(
					"kept a key no algorithm uses: %v",
					err,
				)
			}
			if u := jwk.Marshal().USE; u != "" && u != jwkset.UseSig {
				t.Fatalf(
					"kept a key of use %q",
					u,
				)
			}
		}
		// Whatever the set, a token with a kid it lacks finds no key.
		tok := jwt.New(jwt.SigningMethodEdDSA)
		tok.Header["kid"] = "\x00not-a-kid"
		j := &jwksSource{}
		j.set.Store(set)
		if keys, unknown := j.keys(tok); len(keys) != 0 || !unknown {
			t.Fatalf(
				"an unknown kid found %d keys (unknown=%v)",
				len(keys), unknown,
			)
		}
	})
}
