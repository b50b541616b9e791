package testkit

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/transport/auth"
)

// Secret is an HS256 secret for tests that need a fixed one ([]byte(Secret)):
// at least auth.MinSecretLen bytes, as every secret must be.
const Secret = "orgstream test secret of 32 bytes or more"

// Token issues an HS256 token for (org, sub) expiring in ttl (negative for
// an already expired token), with scope publish when publish is true.
func Token(t testing.TB, secret []byte, org, sub string, ttl time.Duration, publish bool) string {
	t.Helper()
	scope := auth.ScopeSubscribe
	if publish {
		scope = auth.ScopePublish
	}
	now := time.Now()
	c := auth.Claims{Sub: sub, Org: org, Exp: now.Add(ttl), Scope: scope}
	if ttl < 0 {
		c.IssuedAt = c.Exp.Add(-time.Minute) // keep iat before exp
	}
	tok, err := auth.Issue(secret, c)
	if err != nil {
		t.Fatalf("testkit: issue token: %v", err)
	}
	return tok
}

// TokenTopics issues a subscribe token for (org, sub) with the topics claim
// topics (nil: none), expiring in ttl.
func TokenTopics(t testing.TB, secret []byte, org, sub string, ttl time.Duration, topics []string) string {
	t.Helper()
	tok, err := auth.Issue(secret, auth.Claims{Sub: sub, Org: org, Exp: time.Now().Add(ttl), Topics: topics})
	if err != nil {
		t.Fatalf("testkit: issue token: %v", err)
	}
	return tok
}
