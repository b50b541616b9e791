package node_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/internal/testkit"
)

// rawToken signs arbitrary claims with HS256 (or method) and secret.
func rawToken(t *testing.T, secret []byte, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// PROTOCOL.md "Tokens": sub, org and exp are required; scope defaults to
// subscribe; a publish token can also subscribe; org "*" publishes to every
// org. Tokens lacking a required claim are refused with 401 on the stream
// and on publish.
func TestTokenClaims(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	exp := time.Now().Add(time.Hour).Unix()
	hs := jwt.SigningMethodHS256
	body := testkit.EventBody("t", `{}`, "")

	missing := []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"no sub", jwt.MapClaims{"org": "acme", "exp": exp, "scope": "publish"}},
		{"no org", jwt.MapClaims{"sub": "u", "exp": exp, "scope": "publish"}},
		{"no exp", jwt.MapClaims{"sub": "u", "org": "acme", "scope": "publish"}},
		{"empty sub", jwt.MapClaims{"sub": "", "org": "acme", "exp": exp, "scope": "publish"}},
		{"unknown scope", jwt.MapClaims{"sub": "u", "org": "acme", "exp": exp, "scope": "admin"}},
	}
	for _, tc := range missing {
		t.Run(tc.name, func(t *testing.T) {
			tok := rawToken(t, n.Secret, hs, tc.claims)
			resp, b := upgradeRequest(t, n.StreamURL(tok, nil), nil, false)
			expectRefused(t, resp, b, http.StatusUnauthorized)
			if st, b := testkit.Publish(t, n.BaseURL(), "acme", tok, body); st != http.StatusUnauthorized {
				t.Fatalf("publish: %d %s, want 401", st, b)
			}
		})
	}
	t.Run("alg none", func(t *testing.T) {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "u", "org": "acme", "exp": exp, "scope": "publish"}).
			SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		resp, b := upgradeRequest(t, n.StreamURL(tok, nil), nil, false)
		expectRefused(t, resp, b, http.StatusUnauthorized)
		if st, _ := testkit.Publish(t, n.BaseURL(), "acme", tok, body); st != http.StatusUnauthorized {
			t.Fatalf("publish with alg none: %d, want 401", st)
		}
	})

	// No scope claim: subscribe only.
	noScope := rawToken(t, n.Secret, hs, jwt.MapClaims{"sub": "u", "org": "acme", "exp": exp})
	c := testkit.Dial(ctx, t, n.StreamURL(noScope, nil), nil)
	if w := c.ExpectWelcome(ctx); w.Org != "acme" || w.User != "u" {
		t.Fatalf("welcome %s", w.Raw)
	}
	if st, b := testkit.Publish(t, n.BaseURL(), "acme", noScope, body); st != http.StatusForbidden {
		t.Fatalf("publish with the default scope: %d %s, want 403", st, b)
	}
	// A publish token subscribes too.
	pubTok := n.Token(t, "acme", "backend", time.Hour, true)
	p := testkit.Dial(ctx, t, n.StreamURL(pubTok, url.Values{}), nil)
	if w := p.ExpectWelcome(ctx); w.User != "backend" {
		t.Fatalf("welcome %s", w.Raw)
	}
	expectLive(ctx, t, n, p, "acme", 1)
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 1 {
		t.Fatalf("got %s", f.Raw)
	}
}

// PROTOCOL.md "Names": org ids match ^[A-Za-z0-9_-]{1,64}$ and topics
// ^[A-Za-z0-9_.-]{1,256}$; outside them a publish is a 400 adding nothing.
func TestNamesOnPublish(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	long := func(c byte, k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = c
		}
		return string(b)
	}
	orgs := []struct {
		org string
		ok  bool
	}{
		{"a", true},
		{"Az09_-", true},
		{long('o', 64), true},
		{long('o', 65), false},
		{"dots.not.allowed", false},
		{"star*", false},
		{"sp ace", false},
		{"ünï", false},
	}
	for _, tc := range orgs {
		st, b := testkit.Publish(t, n.BaseURL(), tc.org, pub, testkit.EventBody("t", `{}`, ""))
		switch {
		case tc.ok && st != http.StatusCreated:
			t.Errorf("org %q: %d %s, want 201", tc.org, st, b)
		case !tc.ok && st != http.StatusBadRequest:
			t.Errorf("org %q: %d %s, want 400", tc.org, st, b)
		case !tc.ok:
			decodeError(t, b)
		}
	}
	sub, _ := subscriber(ctx, t, n, "topics", "alice")
	topics := []struct {
		topic string
		ok    bool
	}{
		{"a", true},
		{"Orders.updated-v2_x", true},
		{long('t', 256), true},
		{long('t', 257), false},
		{"", false},
		{"has space", false},
		{"slash/no", false},
		{"wild*", false},
	}
	want := uint64(0)
	for _, tc := range topics {
		st, b := testkit.Publish(t, n.BaseURL(), "topics", pub, testkit.EventBody(tc.topic, `{}`, ""))
		if tc.ok != (st == http.StatusCreated) || (!tc.ok && st != http.StatusBadRequest) {
			t.Errorf("topic %q: %d %s", tc.topic, st, b)
		}
		if tc.ok {
			want++
			if f := sub.ExpectFrame(ctx, "event"); f.Topic != tc.topic || f.Seq != want {
				t.Errorf("topic %q delivered as %s", tc.topic, f.Raw)
			}
		}
	}
	expectLive(ctx, t, n, sub, "topics", want+1)
}
