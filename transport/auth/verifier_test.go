package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newVerifier(t testing.TB, cfg VerifierConfig) *Verifier {
	t.Helper()
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// checkVerify runs one Verify and checks its outcome: wantErr nil means
// accepted as alice of acme; else the error must wrap wantErr (and cause,
// when not nil) and not quote the token.
func checkVerify(t *testing.T, v *Verifier, tok string, now time.Time, wantErr, cause error) {
	t.Helper()
	c, err := v.Verify(tok, now)
	if wantErr == nil {
		if err != nil {
			t.Fatalf(
				"refused: %v",
				err,
			)
		}
		if c.Sub != "alice" || c.Org != "acme" || c.Scope != ScopeSubscribe {
			t.Fatalf(
				"claims %+v",
				c,
			)
		}
		return
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf(
			"err = %v, want %v",
			err, wantErr,
		)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf(
			"err = %v, want it to wrap %v",
			err, cause,
		)
	}
	if !reflect.DeepEqual(c, Claims{}) {
		t.Fatalf(
			"claims returned with an error: %+v",
			c,
		)
	}
	checkNoLeak(t, err, tok)
}

// Each accepted algorithm verifies with a public key of its type, beside
// HS256 with the secret.
func TestVerifierAlgorithms(t *testing.T) {
	keys := testKeys(t)
	for _, alg := range publicAlgs {
		t.Run(alg, func(t *testing.T) {
			k, other := keys[alg][0], keys[alg][1]
			v := newVerifier(t, VerifierConfig{Secret: testSecret, PublicKeys: []crypto.PublicKey{k.pub}})
			cases := []struct {
				name  string
				tok   string
				err   error
				cause error
			}{
				{"signed by the key", k.sign(t, good(), ""), nil, nil},
				{"with a kid", k.sign(t, good(), "any-kid"), nil, nil},
				{"HS256 alongside", rawToken(hs256, good(), testSecret), nil, nil},
				{"signed by another key of the type", other.sign(t, good(), ""), ErrInvalid, jwt.ErrTokenSignatureInvalid},
				{"expired", k.sign(t, good("exp", testNow.Unix()-1), ""), ErrExpired, nil},
				{"expired, by another key", other.sign(t, good("exp", testNow.Unix()-1), ""), ErrInvalid, nil},
				{"bad org", k.sign(t, good("org", "a.b"), ""), ErrInvalid, nil},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					checkVerify(t, v, tc.tok, testNow, tc.err, tc.cause)
				})
			}
		})
	}
}

// A key verifies only the algorithm of its type, and the secret only
// HS256, whatever the token's header says.
func TestVerifierAlgConfusion(t *testing.T) {
	keys := testKeys(t)
	rs, es, ed := keys[algRS256][0], keys[algES256][0], keys[algEdDSA][0]
	rsaPEM := pkixPEM(t, rs.pub)
	rsaDER, err := x509.MarshalPKIXPublicKey(rs.pub)
	if err != nil {
		t.Fatal(err)
	}
	rsaOnly := newVerifier(t, VerifierConfig{PublicKeys: []crypto.PublicKey{rs.pub}})
	rsaAndSecret := newVerifier(t, VerifierConfig{Secret: testSecret, PublicKeys: []crypto.PublicKey{rs.pub}})
	ecOnly := newVerifier(t, VerifierConfig{PublicKeys: []crypto.PublicKey{es.pub}})
	edOnly := newVerifier(t, VerifierConfig{PublicKeys: []crypto.PublicKey{ed.pub}})
	// A token signed with ES256 but whose header says ES256 over an RSA key
	// is the same bytes as any ES256 token: what matters is which key the
	// verifier picks for the header's alg.
	relabel := func(t *testing.T, k testKey, alg string) string {
		tok := jwt.NewWithClaims(k.method, jwt.MapClaims(good()))
		tok.Header["alg"] = alg
		s, err := tok.SignedString(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name string
		v    *Verifier
		tok  func(t *testing.T) string
	}{
		{"HS256 keyed with the RSA key's PEM", rsaOnly, func(*testing.T) string { return rawToken(hs256, good(), rsaPEM) }},
		{"HS256 keyed with the RSA key's PEM, secret configured", rsaAndSecret, func(*testing.T) string { return rawToken(hs256, good(), rsaPEM) }},
		{"HS256 keyed with the RSA key's DER", rsaAndSecret, func(*testing.T) string { return rawToken(hs256, good(), rsaDER) }},
		{"HS256 keyed with the EC key's PEM", ecOnly, func(t *testing.T) string { return rawToken(hs256, good(), pkixPEM(t, es.pub)) }},
		{"HS256 token, no secret", edOnly, func(*testing.T) string { return rawToken(hs256, good(), testSecret) }},
		{"ES256 token, RSA key only", rsaOnly, func(t *testing.T) string { return es.sign(t, good(), "") }},
		{"EdDSA token, RSA key only", rsaOnly, func(t *testing.T) string { return ed.sign(t, good(), "") }},
		{"RS256 token, EC key only", ecOnly, func(t *testing.T) string { return rs.sign(t, good(), "") }},
		{"RS256 token, Ed25519 key only", edOnly, func(t *testing.T) string { return rs.sign(t, good(), "") }},
		{"RS384 by the RSA key", rsaOnly, func(t *testing.T) string {
			return signJWT(t, jwt.SigningMethodRS384, rs.priv, good())
		}},
		{"PS256 by the RSA key", rsaOnly, func(t *testing.T) string {
			return signJWT(t, jwt.SigningMethodPS256, rs.priv, good())
		}},
		{"ES256 signature labelled RS256", rsaAndSecret, func(t *testing.T) string { return relabel(t, es, algRS256) }},
		{"EdDSA signature labelled ES256", ecOnly, func(t *testing.T) string { return relabel(t, ed, algES256) }},
		{"RS256 signature labelled HS256", rsaAndSecret, func(t *testing.T) string { return relabel(t, rs, algHS256) }},
		{"alg none", rsaAndSecret, func(*testing.T) string {
			return rawToken(map[string]string{"alg": "none"}, good(), nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkVerify(t, tc.v, tc.tok(t), testNow, ErrInvalid, nil)
		})
	}
}

func TestVerifierIssuerAudience(t *testing.T) {
	ed := testKeys(t)[algEdDSA][0]
	const iss, aud = "https://idp.example.com/", "orgstream"
	checked := newVerifier(t, VerifierConfig{Secret: testSecret, PublicKeys: []crypto.PublicKey{ed.pub}, Issuer: iss, Audience: aud})
	unchecked := newVerifier(t, VerifierConfig{Secret: testSecret, PublicKeys: []crypto.PublicKey{ed.pub}})
	cases := []struct {
		name      string
		claims    map[string]any
		err       error // of the checking verifier
		cause     error
		uncheched error // of the verifier without Issuer and Audience
	}{
		{name: "both right", claims: good("iss", iss, "aud", aud)},
		{name: "audience among others", claims: good("iss", iss, "aud", []string{"billing", aud})},
		{name: "wrong issuer", claims: good("iss", "https://evil.example.com/", "aud", aud), err: ErrInvalid, cause: jwt.ErrTokenInvalidIssuer},
		{name: "issuer differs by a slash", claims: good("iss", "https://idp.example.com", "aud", aud), err: ErrInvalid, cause: jwt.ErrTokenInvalidIssuer},
		{name: "no issuer", claims: good("aud", aud), err: ErrInvalid, cause: jwt.ErrTokenRequiredClaimMissing},
		{name: "wrong audience", claims: good("iss", iss, "aud", "billing"), err: ErrInvalid, cause: jwt.ErrTokenInvalidAudience},
		{name: "no audience", claims: good("iss", iss), err: ErrInvalid, cause: jwt.ErrTokenRequiredClaimMissing},
		{name: "empty audience list", claims: good("iss", iss, "aud", []string{}), err: ErrInvalid, cause: jwt.ErrTokenRequiredClaimMissing},
		{name: "issuer not a string", claims: good("iss", 7, "aud", aud), err: ErrInvalid, uncheched: ErrInvalid},
	}
	for _, tc := range cases {
		for _, k := range []struct {
			name string
			sign func(t *testing.T, c map[string]any) string
		}{
			{"EdDSA", func(t *testing.T, c map[string]any) string { return ed.sign(t, c, "") }},
			{"HS256", func(_ *testing.T, c map[string]any) string { return rawToken(hs256, c, testSecret) }},
		} {
			t.Run(tc.name+"/"+k.name, func(t *testing.T) {
				tok := k.sign(t, tc.claims)
				checkVerify(t, checked, tok, testNow, tc.err, tc.cause)
				checkVerify(t, unchecked, tok, testNow, tc.uncheched, nil)
			})
		}
	}
}

// nbf and iat may be up to ClockSkew ahead; exp has no leeway.
func TestVerifierClockSkew(t *testing.T) {
	ed := testKeys(t)[algEdDSA][0]
	v := newVerifier(t, VerifierConfig{Secret: testSecret, PublicKeys: []crypto.PublicKey{ed.pub}})
	now := testNow.Unix()
	cases := []struct {
		name   string
		claims map[string]any
		err    error
		cause  error
	}{
		{name: "nbf 4s ahead", claims: good("nbf", now+4)},
		{name: "nbf 5s ahead", claims: good("nbf", now+5)},
		{name: "nbf 6s ahead", claims: good("nbf", now+6), err: ErrInvalid, cause: jwt.ErrTokenNotValidYet},
		{name: "nbf passed", claims: good("nbf", now-60)},
		{name: "iat 4s ahead", claims: good("iat", now+4)},
		{name: "iat 5s ahead", claims: good("iat", now+5)},
		{name: "iat 6s ahead", claims: good("iat", now+6), err: ErrInvalid, cause: jwt.ErrTokenUsedBeforeIssued},
		{name: "iat and nbf 4s ahead", claims: good("iat", now+4, "nbf", now+4)},
		{name: "exp 1s ahead", claims: good("exp", now+1)},
		{name: "exp now", claims: good("exp", now), err: ErrExpired},
		{name: "exp 1s ago", claims: good("exp", now-1), err: ErrExpired},
		{name: "exp 4s ago", claims: good("exp", now-4), err: ErrExpired},
		{name: "exp 1h ago", claims: good("exp", now-3600), err: ErrExpired},
		{name: "exp 1s ago, iat 6s ahead", claims: good("exp", now-1, "iat", now+6), err: ErrExpired},
		{name: "no exp", claims: without(good(), "exp"), err: ErrInvalid, cause: jwt.ErrTokenRequiredClaimMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/HS256", func(t *testing.T) {
			checkVerify(t, v, rawToken(hs256, tc.claims, testSecret), testNow, tc.err, tc.cause)
		})
		t.Run(tc.name+"/EdDSA", func(t *testing.T) {
			checkVerify(t, v, ed.sign(t, tc.claims, ""), testNow, tc.err, tc.cause)
		})
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  VerifierConfig
		err  error
	}{
		{"no key", VerifierConfig{Issuer: "x"}, ErrVerifierConfig},
		{"secret of 31 bytes", VerifierConfig{Secret: testSecret[:MinSecretLen-1]}, ErrShortSecret},
		{"secret of 1 byte", VerifierConfig{Secret: []byte("s")}, ErrShortSecret},
		{"P-384 key", VerifierConfig{PublicKeys: []crypto.PublicKey{&p384.PublicKey}}, ErrUnsupportedKey},
		{"a private key", VerifierConfig{PublicKeys: []crypto.PublicKey{testKeys(t)[algEdDSA][0].priv}}, ErrUnsupportedKey},
		{"JWKS URL without scheme", VerifierConfig{JWKSURL: "idp.example.com/jwks"}, ErrVerifierConfig},
		{"JWKS URL of another scheme", VerifierConfig{JWKSURL: "ftp://idp.example.com/jwks"}, ErrVerifierConfig},
		{"JWKS URL without host", VerifierConfig{JWKSURL: "https:///jwks"}, ErrVerifierConfig},
		{"negative refresh", VerifierConfig{JWKSURL: "https://idp.example.com/jwks", JWKSRefresh: -time.Second}, ErrVerifierConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrVerifierConfig) || v != nil {
				t.Fatalf(
					"NewVerifier = %v, %v; want %v",
					v, err, tc.err,
				)
			}
		})
	}
	if _, err := NewVerifier(VerifierConfig{Secret: testSecret[:MinSecretLen]}); err != nil {
		t.Fatalf(
			"a secret of %d bytes: %v",
			MinSecretLen, err,
		)
	}
}

func TestVerifierIssue(t *testing.T) {
	const iss, aud = "https://idp.example.com/", "orgstream"
	v := newVerifier(t, VerifierConfig{Secret: testSecret, Issuer: iss, Audience: aud})
	tok, err := v.Issue(Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), IssuedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	checkVerify(t, v, tok, testNow, nil, nil)
	// The plain Issue leaves iss and aud out, which this verifier refuses.
	plain, err := Issue(testSecret, Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), IssuedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	checkVerify(t, v, plain, testNow, ErrInvalid, jwt.ErrTokenRequiredClaimMissing)

	keyOnly := newVerifier(t, VerifierConfig{PublicKeys: []crypto.PublicKey{testKeys(t)[algEdDSA][0].pub}})
	if tok, err := keyOnly.Issue(Claims{Sub: "a", Org: "o", Exp: testNow.Add(time.Hour)}); !errors.Is(err, ErrNoSecret) || tok != "" {
		t.Fatalf(
			"Issue without a secret = %q, %v; want ErrNoSecret",
			tok, err,
		)
	}
}
