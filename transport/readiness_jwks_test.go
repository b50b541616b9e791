package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/transport/auth"
)

// idp is an identity provider on loopback: one Ed25519 key, published as a
// JWKS (written by jwkset) until down is set.
type idp struct {
	srv  *httptest.Server
	priv ed25519.PrivateKey
	down atomic.Bool
}

const idpIssuer, idpAudience = "https://idp.test/", "orgstream"

func startIdP(t *testing.T) *idp {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", ALG: jwkset.AlgEdDSA}})
	if err != nil {
		t.Fatal(err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(t.Context(), jwk); err != nil {
		t.Fatal(err)
	}
	set, err := store.JSONPublic(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{priv: priv}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if p.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// token signs claims for alice of acme with the IdP's key; extra claims
// are added or replace.
func (p *idp) token(t *testing.T, extra jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "alice", "org": "acme", "scope": "publish", "exp": time.Now().Add(time.Hour).Unix(),
		"iss": idpIssuer, "aud": idpAudience}
	for k, v := range extra {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(p.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verifier is a Verifier of the IdP's tokens and of testSecret's, closed
// when t ends.
func (p *idp) verifier(t *testing.T) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{
		Secret: testSecret, JWKSURL: p.srv.URL + "/jwks", Issuer: idpIssuer, Audience: idpAudience,
		JWKSRefresh: 50 * time.Millisecond, JWKSMinRefetch: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func readyState(t *testing.T, env *testEnv) (status int, doc map[string]string) {
	t.Helper()
	resp, body := get(t, env, "/readyz")
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/readyz body %s: %v", body, err)
	}
	return resp.StatusCode, doc
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
	}
}

// /readyz and /metrics show the JWKS's state; its failure never makes the
// node unready, and its cached keys keep working.
func TestReadyzJWKS(t *testing.T) {
	p := startIdP(t)
	env := newTestEnv(t, func(c *Config) { c.Verifier = p.verifier(t) })

	waitFor(t, `"jwks":"ok"`, func() bool { _, doc := readyState(t, env); return doc["jwks"] == auth.JWKSOK })
	if status, doc := readyState(t, env); status != 200 || doc["status"] != "ready" {
		t.Fatalf("readyz %d %v", status, doc)
	}
	_, metricsText := get(t, env, "/metrics")
	for _, line := range []string{"orgstream_jwks_fetch_ok 1", "orgstream_jwks_keys 1", "orgstream_jwks_fetch_failures_total 0"} {
		if !strings.Contains(string(metricsText), line+"\n") {
			t.Fatalf("/metrics lacks %q", line)
		}
	}

	p.down.Store(true)
	waitFor(t, `"jwks":"stale"`, func() bool { _, doc := readyState(t, env); return doc["jwks"] == auth.JWKSStale })
	if status, doc := readyState(t, env); status != 200 || doc["status"] != "ready" {
		t.Fatalf("a stale JWKS made the node unready: %d %v", status, doc)
	}
	_, metricsText = get(t, env, "/metrics")
	if !strings.Contains(string(metricsText), "orgstream_jwks_fetch_ok 0\n") ||
		strings.Contains(string(metricsText), "orgstream_jwks_fetch_failures_total 0\n") {
		t.Fatalf("/metrics does not show the failure:\n%s", metricsText)
	}
	resp, body := postEvents(t, env, "acme", p.token(t, nil), oneEvent, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish with a cached key while the JWKS is down: %d %s", resp.StatusCode, body)
	}
}

// Without a JWKS, /readyz carries no jwks field and /metrics no JWKS figures.
func TestReadyzWithoutJWKS(t *testing.T) {
	env := newTestEnv(t, nil)
	resp, body := get(t, env, "/readyz")
	if resp.StatusCode != 200 || string(body) != `{"status":"ready","code":"ready"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if _, m := get(t, env, "/metrics"); strings.Contains(string(m), "jwks") {
		t.Fatal("/metrics has JWKS figures without a JWKS")
	}
}

// A JWKS never fetched shows "unavailable"; HS256 keeps working.
func TestReadyzJWKSUnavailable(t *testing.T) {
	p := startIdP(t)
	p.down.Store(true)
	v := p.verifier(t)
	env := newTestEnv(t, func(c *Config) { c.Verifier = v })
	waitFor(t, "a failed fetch", func() bool { return v.JWKSStatus().Failures > 0 })
	if status, doc := readyState(t, env); status != 200 || doc["jwks"] != auth.JWKSUnavailable {
		t.Fatalf("readyz %d %v", status, doc)
	}
	resp, body := postEvents(t, env, "acme", p.token(t, nil), oneEvent, nil)
	checkErrorBody(t, resp, body, http.StatusUnauthorized, CodeInvalidToken)
	// HS256 tokens are checked for iss and aud too: the Verifier's Issue
	// stamps them.
	resp, body = postEvents(t, env, "acme", issue(t, "acme", "svc", "publish", time.Hour), oneEvent, nil)
	checkErrorBody(t, resp, body, http.StatusUnauthorized, CodeInvalidToken)
	hs, err := v.Issue(auth.Claims{Sub: "svc", Org: "acme", Scope: auth.ScopePublish, Exp: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = postEvents(t, env, "acme", hs, oneEvent, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("HS256 publish: %d %s", resp.StatusCode, body)
	}
}

// Tokens of the IdP are checked for iss and aud on both routes.
func TestIdPTokenClaims(t *testing.T) {
	p := startIdP(t)
	env := newTestEnv(t, func(c *Config) { c.Verifier = p.verifier(t) })
	cases := []struct {
		name  string
		extra jwt.MapClaims
		ok    bool
	}{
		{"right issuer and audience", nil, true},
		{"wrong issuer", jwt.MapClaims{"iss": "https://evil.test/"}, false},
		{"wrong audience", jwt.MapClaims{"aud": "billing"}, false},
		{"nbf 4s ahead", jwt.MapClaims{"nbf": time.Now().Add(4 * time.Second).Unix()}, true},
		{"nbf a minute ahead", jwt.MapClaims{"nbf": time.Now().Add(time.Minute).Unix()}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := p.token(t, tc.extra)
			resp, body := postEvents(t, env, "acme", tok, oneEvent, nil)
			c, sresp, err := dialStream(t, env, "?access_token="+tok, nil)
			if err == nil {
				defer c.CloseNow()
			}
			if tc.ok {
				if resp.StatusCode != http.StatusCreated || err != nil {
					t.Fatalf("publish %d %s; stream %v", resp.StatusCode, body, err)
				}
				env.streams.expectOpened(t)
				return
			}
			checkErrorBody(t, resp, body, http.StatusUnauthorized, CodeInvalidToken)
			if err == nil || sresp == nil || sresp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("stream with a refused token: %v", err)
			}
		})
	}
}
