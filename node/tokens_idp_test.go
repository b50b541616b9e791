package node_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/node"
	"github.com/orgstream/orgstream/transport/auth"
)

const idpIssuer, idpAudience = "https://idp.test/", "orgstream"

// signer is one key of the identity provider.
type signer struct {
	method jwt.SigningMethod
	priv   crypto.Signer
	kid    string // "" for the key of the PEM file
}

func (s signer) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	out, err := tok.SignedString(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// idpClaims are claims the node accepts, for sub of org; extra ones are
// added or replace (nil values delete).
func idpClaims(sub, org string, publish bool, extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "org": org, "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "iss": idpIssuer, "aud": []string{idpAudience}}
	if publish {
		c["scope"] = auth.ScopePublish
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// startJWKS serves the public keys of signers as a JWK set (written by
// jwkset) on loopback.
func startJWKS(t *testing.T, signers ...signer) string {
	t.Helper()
	store := jwkset.NewMemoryStorage()
	for _, s := range signers {
		jwk, err := jwkset.NewJWKFromKey(s.priv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: s.kid, ALG: jwkset.ALG(s.method.Alg()), USE: jwkset.UseSig,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.KeyWrite(t.Context(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	body, err := store.JSONPublic(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// Tokens of an identity provider, RS256 and EdDSA from its JWKS and ES256
// from a PEM file, open streams and publish through a real node; a wrong
// issuer or audience is a 401 with a JSON body on both.
func TestIdPTokens(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs := signer{jwt.SigningMethodRS256, rsaKey, "rsa-2026"}
	ed := signer{jwt.SigningMethodEdDSA, edKey, "ed-2026"}
	es := signer{jwt.SigningMethodES256, ecKey, ""}
	der, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	jwksURL := startJWKS(t, rs, ed)
	n := testkit.StartNode(t, func(c *node.Config) {
		c.JWKSURL, c.JWTPublicKeyFile = jwksURL, pemFile
		c.JWTIssuer, c.JWTAudience = idpIssuer, idpAudience
	})
	ctx := ctxFor(t, phase)

	for _, s := range []signer{rs, ed, es} {
		t.Run(s.method.Alg(), func(t *testing.T) {
			org := "idp-" + s.method.Alg()
			c := testkit.Dial(ctx, t, n.StreamURL(s.sign(t, idpClaims("alice", org, false, nil)), nil), nil)
			defer c.Close()
			if w := c.ExpectWelcome(ctx); w.User != "alice" || w.Org != org {
				t.Fatalf("welcome %s, want alice of %s", w.Raw, org)
			}
			pub := s.sign(t, idpClaims("backend", org, true, nil))
			seq := testkit.PublishEvent(t, n.BaseURL(), org, pub, "t", `{"alg":"`+s.method.Alg()+`"}`)
			if f := c.ExpectFrame(ctx, "event"); f.Seq != seq {
				t.Fatalf("event %s, want seq %d", f.Raw, seq)
			}
		})
	}

	// HS256 tokens of the node's secret face the same iss and aud checks.
	hs := func(iss, aud string) string {
		tok, err := auth.Issue(n.Secret, auth.Claims{Sub: "alice", Org: "acme", Scope: auth.ScopePublish,
			Exp: time.Now().Add(time.Hour), Issuer: iss, Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if st, b := testkit.Publish(t, n.BaseURL(), "acme", hs(idpIssuer, idpAudience), testkit.EventBody("t", "{}", "")); st != http.StatusCreated {
		t.Fatalf("HS256 with iss and aud: %d %s", st, b)
	}

	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  func(publish bool) string
		code string
	}{
		{"wrong issuer", func(p bool) string {
			return rs.sign(t, idpClaims("alice", "acme", p, jwt.MapClaims{"iss": "https://evil.test/"}))
		}, "invalid_token"},
		{"wrong audience", func(p bool) string {
			return ed.sign(t, idpClaims("alice", "acme", p, jwt.MapClaims{"aud": "billing"}))
		}, "invalid_token"},
		{"no audience", func(p bool) string {
			return es.sign(t, idpClaims("alice", "acme", p, jwt.MapClaims{"aud": nil}))
		}, "invalid_token"},
		{"known kid, another key", func(p bool) string {
			return signer{jwt.SigningMethodRS256, otherRSA, rs.kid}.sign(t, idpClaims("alice", "acme", p, nil))
		}, "invalid_token"},
		{"unknown kid", func(p bool) string {
			return signer{jwt.SigningMethodRS256, otherRSA, "rsa-2027"}.sign(t, idpClaims("alice", "acme", p, nil))
		}, "invalid_token"},
		{"nbf a minute ahead", func(p bool) string {
			return ed.sign(t, idpClaims("alice", "acme", p, jwt.MapClaims{"nbf": time.Now().Add(time.Minute).Unix()}))
		}, "invalid_token"},
		{"expired a second ago", func(p bool) string {
			return ed.sign(t, idpClaims("alice", "acme", p, jwt.MapClaims{"exp": time.Now().Unix() - 1, "iat": time.Now().Unix() - 60}))
		}, "token_expired"},
		{"HS256 without iss and aud", func(bool) string { return hs("", "") }, "invalid_token"},
		{"HS256 of another issuer", func(bool) string { return hs("https://evil.test/", idpAudience) }, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := upgradeRequest(t, n.StreamURL(tc.tok(false), nil), nil, false)
			if e := expectRefused(t, resp, body, http.StatusUnauthorized); e.Code != tc.code {
				t.Fatalf("stream refused with %s, want %s", body, tc.code)
			}
			st, body := testkit.Publish(t, n.BaseURL(), "acme", tc.tok(true), testkit.EventBody("t", "{}", ""))
			if st != http.StatusUnauthorized || decodeError(t, body).Code != tc.code {
				t.Fatalf("publish: %d %s, want 401 %s", st, body, tc.code)
			}
		})
	}

	st, body := get(t, n.BaseURL()+"/readyz")
	var ready map[string]string
	if err := json.Unmarshal(body, &ready); err != nil || st != http.StatusOK || ready["jwks"] != auth.JWKSOK {
		t.Fatalf("/readyz %d %s, want 200 with jwks ok", st, body)
	}
}
