package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A cached token is still refused from its exp on, and a cached token is
// not used at an earlier now (its nbf and iat held at the later one only).
func TestVerifierCacheChecksExp(t *testing.T) {
	v := newVerifier(t, VerifierConfig{Secret: testSecret})
	now := testNow.Unix()
	tok := rawToken(hs256, good("exp", now+30, "nbf", now-5), testSecret)
	checkVerify(t, v, tok, testNow, nil, nil)
	if n := v.cache.len(); n != 1 {
		t.Fatalf("%d cached tokens after one verification, want 1", n)
	}
	checkVerify(t, v, tok, testNow.Add(29*time.Second), nil, nil)
	checkVerify(t, v, tok, testNow.Add(30*time.Second), ErrExpired, nil)
	checkVerify(t, v, tok, testNow.Add(time.Hour), ErrExpired, nil)

	early := rawToken(hs256, good("nbf", now-5), testSecret)
	checkVerify(t, v, early, testNow, nil, nil)
	checkVerify(t, v, early, testNow.Add(-time.Minute), ErrInvalid, jwt.ErrTokenNotValidYet)
}

// Refusals are not cached: a token refused before its nbf is accepted from
// it on; a bad signature stays out of the cache.
func TestVerifierCacheKeepsNoRefusal(t *testing.T) {
	v := newVerifier(t, VerifierConfig{Secret: testSecret})
	now := testNow.Unix()
	tok := rawToken(hs256, good("nbf", now+60), testSecret)
	checkVerify(t, v, tok, testNow, ErrInvalid, jwt.ErrTokenNotValidYet)
	checkVerify(t, v, tok, testNow.Add(time.Minute), nil, nil)

	forged := rawToken(hs256, good(), []byte("another secret of at least thirty-two bytes"))
	for range 2 {
		checkVerify(t, v, forged, testNow, ErrInvalid, jwt.ErrTokenSignatureInvalid)
	}
	if n := v.cache.len(); n != 1 {
		t.Fatalf("%d cached tokens, want 1 (the accepted one)", n)
	}
}

// An entry lives at most cacheMaxAge: a token whose key is gone (here the
// secret, rotated under the cache's feet) is refused once its entry aged.
func TestVerifierCacheMaxAge(t *testing.T) {
	v := newVerifier(t, VerifierConfig{Secret: testSecret})
	tok := rawToken(hs256, good("exp", testNow.Unix()+3600), testSecret)
	checkVerify(t, v, tok, testNow, nil, nil)
	v.secret = []byte("the rotated secret, thirty-two bytes or more")
	checkVerify(t, v, tok, testNow.Add(cacheMaxAge-time.Second), nil, nil)
	checkVerify(t, v, tok, testNow.Add(cacheMaxAge), ErrInvalid, jwt.ErrTokenSignatureInvalid)
}

// A JWKS fetch outdates the entries made under the set before it: a kid
// removed from the set is refused at once, cache or not.
func TestVerifierCacheJWKSChange(t *testing.T) {
	k := testKeys(t)[algEdDSA][0]
	noLeaks(t)
	srv := startJWKSServer(t, map[string]testKey{"a": k})
	v := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSMinRefetch: time.Millisecond})
	tok := k.sign(t, claimsNow(), "a")
	if !verifies(v, tok) {
		t.Fatal("refused before the change")
	}
	srv.set(func(s *jwksServer) { delete(s.keys, "a"); s.keys["b"] = k })
	// A token with an unknown kid makes the verifier fetch the set again.
	if !verifies(v, k.sign(t, claimsNow(), "b")) {
		t.Fatal("the new kid is refused")
	}
	if _, err := v.Verify(tok, time.Now()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a cached token of a removed kid: err = %v, want ErrInvalid", err)
	}
}

// The cache stays bounded however many tokens it sees.
func TestVerifiedCacheBounded(t *testing.T) {
	c := newVerifiedCache(100)
	for i := range 1000 {
		c.put(sha256.Sum256(fmt.Appendf(nil, "token %d", i)), verifiedEntry{added: testNow})
		if n := c.len(); n > 100 {
			t.Fatalf("%d entries after %d puts, want at most 100", n, i+1)
		}
	}
	// Aged entries go first.
	c = newVerifiedCache(10)
	for i := range 10 {
		c.put(sha256.Sum256(fmt.Appendf(nil, "token %d", i)), verifiedEntry{added: testNow})
	}
	c.put(sha256.Sum256([]byte("young")), verifiedEntry{added: testNow.Add(cacheMaxAge)})
	if n := c.len(); n != 1 {
		t.Fatalf("%d entries after a put past every entry's age, want 1", n)
	}
}

// The cost of a Verify of a token seen before (the cache) and of a full
// verification (what every Verify cost before the cache).
func BenchmarkVerifyCache(b *testing.B) {
	v := newVerifier(b, VerifierConfig{Secret: testSecret})
	tok := rawToken(hs256, good("exp", testNow.Unix()+3600), testSecret)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(tok, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := v.verify(tok, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
}
