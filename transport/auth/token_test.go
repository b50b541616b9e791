package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	testNow    = time.Unix(1_800_000_000, 0)
)

// rawToken builds a token from a header and claims, signed with HMAC-SHA256
// under key (no signature when key is nil).
func rawToken(header, claims any, key []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	s := enc(header) + "." + enc(claims)
	if key == nil {
		return s + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var hs256 = map[string]string{"alg": "HS256", "typ": "JWT"}

func claimsMap(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func good(extra ...any) map[string]any {
	return claimsMap(append([]any{"sub", "alice", "org", "acme", "exp", testNow.Unix() + 3600}, extra...)...)
}

func without(m map[string]any, key string) map[string]any {
	delete(m, key)
	return m
}

func signJWT(t testing.TB, m jwt.SigningMethod, key any, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, jwt.MapClaims(claims)).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type verifyCase struct {
	name  string
	token func(t testing.TB) string
	want  Claims
	err   error // nil when valid
	cause error // an error the returned one must also wrap, if any
}

func verifyCases() []verifyCase {
	return []verifyCase{
		{
			name:  "good, scope defaults to subscribe",
			token: func(testing.TB) string { return rawToken(hs256, good(), testSecret) },
			want:  Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), Scope: ScopeSubscribe},
		},
		{
			name:  "publish scope",
			token: func(testing.TB) string { return rawToken(hs256, good("scope", "publish"), testSecret) },
			want:  Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), Scope: ScopePublish},
		},
		{
			name: "explicit subscribe scope, iat",
			token: func(testing.TB) string {
				return rawToken(hs256, good("scope", "subscribe", "iat", testNow.Unix()-10), testSecret)
			},
			want: Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), Scope: ScopeSubscribe, IssuedAt: testNow.Add(-10 * time.Second)},
		},
		{
			name:  "scope null is absent",
			token: func(testing.TB) string { return rawToken(hs256, good("scope", nil), testSecret) },
			want:  Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), Scope: ScopeSubscribe},
		},
		{
			name:  "org star",
			token: func(testing.TB) string { return rawToken(hs256, good("org", "*", "scope", "publish"), testSecret) },
			want:  Claims{Sub: "alice", Org: AnyOrg, Exp: testNow.Add(time.Hour), Scope: ScopePublish},
		},
		{
			name:  "unknown claims ignored",
			token: func(testing.TB) string { return rawToken(hs256, good("aud", "x", "iss", "y", "jti", "z"), testSecret) },
			want:  Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), Scope: ScopeSubscribe},
		},
		{
			name:  "signed by the jwt library",
			token: func(t testing.TB) string { return signJWT(t, jwt.SigningMethodHS256, testSecret, good()) },
			want:  Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Hour), Scope: ScopeSubscribe},
		},
		{
			name:  "exp one second after now",
			token: func(testing.TB) string { return rawToken(hs256, good("exp", testNow.Unix()+1), testSecret) },
			want:  Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(time.Second), Scope: ScopeSubscribe},
		},
		{
			name:  "empty",
			token: func(testing.TB) string { return "" },
			err:   ErrMissing,
		},
		{
			name:  "wrong secret",
			token: func(testing.TB) string { return rawToken(hs256, good(), []byte("other")) },
			err:   ErrInvalid,
			cause: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:  "expired token with wrong secret is invalid, not expired",
			token: func(testing.TB) string { return rawToken(hs256, good("exp", testNow.Unix()-5), []byte("other")) },
			err:   ErrInvalid,
		},
		{
			name:  "alg none",
			token: func(testing.TB) string { return rawToken(map[string]string{"alg": "none", "typ": "JWT"}, good(), nil) },
			err:   ErrInvalid,
		},
		{
			name: "alg none signed by the library",
			token: func(t testing.TB) string {
				return signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good())
			},
			err: ErrInvalid,
		},
		{
			name:  "alg None with an HMAC signature",
			token: func(testing.TB) string { return rawToken(map[string]string{"alg": "None"}, good(), testSecret) },
			err:   ErrInvalid,
		},
		{
			name: "RS256",
			token: func(t testing.TB) string {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					t.Fatal(err)
				}
				return signJWT(t, jwt.SigningMethodRS256, k, good())
			},
			err:   ErrInvalid,
			cause: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:  "RS256 header with an HMAC signature (key confusion)",
			token: func(testing.TB) string { return rawToken(map[string]string{"alg": "RS256"}, good(), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "HS512 with the right secret",
			token: func(t testing.TB) string { return signJWT(t, jwt.SigningMethodHS512, testSecret, good()) },
			err:   ErrInvalid,
		},
		{
			name:  "missing sub",
			token: func(testing.TB) string { return rawToken(hs256, without(good(), "sub"), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "empty sub",
			token: func(testing.TB) string { return rawToken(hs256, good("sub", ""), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "sub not a string",
			token: func(testing.TB) string { return rawToken(hs256, good("sub", 42), testSecret) },
			err:   ErrInvalid,
			cause: jwt.ErrTokenMalformed,
		},
		{
			name:  "missing org",
			token: func(testing.TB) string { return rawToken(hs256, without(good(), "org"), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "missing exp",
			token: func(testing.TB) string { return rawToken(hs256, without(good(), "exp"), testSecret) },
			err:   ErrInvalid,
			cause: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:  "exp not a number",
			token: func(testing.TB) string { return rawToken(hs256, good("exp", "tomorrow"), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "expired",
			token: func(testing.TB) string { return rawToken(hs256, good("exp", testNow.Unix()-1), testSecret) },
			err:   ErrExpired,
		},
		{
			name:  "exp equal to now",
			token: func(testing.TB) string { return rawToken(hs256, good("exp", testNow.Unix()), testSecret) },
			err:   ErrExpired,
		},
		{
			name:  "not valid yet",
			token: func(testing.TB) string { return rawToken(hs256, good("nbf", testNow.Unix()+60), testSecret) },
			err:   ErrInvalid,
			cause: jwt.ErrTokenNotValidYet,
		},
		{
			name:  "bad org",
			token: func(testing.TB) string { return rawToken(hs256, good("org", "acme.eu"), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "org wildcard other than star",
			token: func(testing.TB) string { return rawToken(hs256, good("org", ">"), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "org too long",
			token: func(testing.TB) string { return rawToken(hs256, good("org", strings.Repeat("o", 65)), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "bad scope",
			token: func(testing.TB) string { return rawToken(hs256, good("scope", "admin"), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "empty scope",
			token: func(testing.TB) string { return rawToken(hs256, good("scope", ""), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "scope list",
			token: func(testing.TB) string { return rawToken(hs256, good("scope", []string{"publish"}), testSecret) },
			err:   ErrInvalid,
		},
		{
			name:  "garbage",
			token: func(testing.TB) string { return "not-a-token" },
			err:   ErrInvalid,
			cause: jwt.ErrTokenMalformed,
		},
		{
			name: "padded base64",
			token: func(testing.TB) string {
				tok := rawToken(hs256, good(), testSecret)
				return strings.Replace(tok, ".", "=.", 1)
			},
			err: ErrInvalid,
		},
		{
			name: "too long",
			token: func(testing.TB) string {
				return rawToken(hs256, good("pad", strings.Repeat("x", MaxTokenLen)), testSecret)
			},
			err: ErrInvalid,
		},
	}
}

// hsVerifier is a Verifier of HS256 tokens signed with testSecret.
func hsVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	v := hsVerifier(t)
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token(t)
			c, err := v.Verify(tok, testNow)
			if tc.err == nil {
				if err != nil {
					t.Fatalf(
						"unexpected error: %v",
						err,
					)
				}
				if c.Sub != tc.want.Sub || c.Org != tc.want.Org || c.Scope != tc.want.Scope ||
					!c.Exp.Equal(tc.want.Exp) || !c.IssuedAt.Equal(tc.want.IssuedAt) {
					t.Fatalf(
						"claims %+v, want %+v",
						c, tc.want,
					)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf(
					"err = %v, want %v",
					err, tc.err,
				)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf(
					"err = %v, want it to wrap %v",
					err, tc.cause,
				)
			}
			if !reflect.DeepEqual(c, Claims{}) {
				t.Fatalf(
					"claims returned with an error: %+v",
					c,
				)
			}
			checkNoLeak(t, err, tok)
		})
	}
}

// checkNoLeak fails if the error text quotes the token or a part of it.
func checkNoLeak(t *testing.T, err error, tok string) {
	t.Helper()
	msg := err.Error()
	if len(tok) >= 8 && strings.Contains(msg, tok) {
		t.Fatalf(
			"error %q contains the token",
			msg,
		)
	}
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Fatalf(
				"error %q contains a token segment",
				msg,
			)
		}
	}
}

func TestIssueVerify(t *testing.T) {
	cases := []struct {
		name string
		in   Claims
		want Claims
	}{
		{
			name: "subscribe by default",
			in:   Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(90*time.Minute + 500*time.Millisecond), IssuedAt: testNow},
			want: Claims{Sub: "alice", Org: "acme", Exp: testNow.Add(90 * time.Minute), Scope: ScopeSubscribe, IssuedAt: testNow},
		},
		{
			name: "publisher on every org",
			in:   Claims{Sub: "billing", Org: AnyOrg, Exp: testNow.Add(time.Hour), Scope: ScopePublish, IssuedAt: testNow},
			want: Claims{Sub: "billing", Org: AnyOrg, Exp: testNow.Add(time.Hour), Scope: ScopePublish, IssuedAt: testNow},
		},
		{
			name: "user id with any characters",
			in:   Claims{Sub: "ali\"ce@example.com/é", Org: "a_b-c", Exp: testNow.Add(time.Second), IssuedAt: testNow},
			want: Claims{Sub: "ali\"ce@example.com/é", Org: "a_b-c", Exp: testNow.Add(time.Second), Scope: ScopeSubscribe, IssuedAt: testNow},
		},
	}
	v := hsVerifier(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Issue(testSecret, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tok, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got.Sub != tc.want.Sub || got.Org != tc.want.Org || got.Scope != tc.want.Scope ||
				!got.Exp.Equal(tc.want.Exp) || !got.IssuedAt.Equal(tc.want.IssuedAt) {
				t.Fatalf(
					"claims %+v, want %+v",
					got, tc.want,
				)
			}
			if got.CanPublish("acme") != (tc.want.Scope == ScopePublish) {
				t.Fatalf(
					"CanPublish(acme) = %v",
					got.CanPublish("acme"),
				)
			}
			if _, err := v.Verify(tok, tc.want.Exp); !errors.Is(err, ErrExpired) {
				t.Fatalf(
					"at exp: err = %v, want ErrExpired",
					err,
				)
			}
		})
	}
}

func TestIssueDefaultsIssuedAt(t *testing.T) {
	before := time.Now().Add(-time.Second)
	tok, err := Issue(testSecret, Claims{Sub: "a", Org: "o", Exp: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := hsVerifier(t).Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.IssuedAt.Before(before) || c.IssuedAt.After(time.Now()) {
		t.Fatalf(
			"iat %v not about now",
			c.IssuedAt,
		)
	}
}

func TestIssueRefuses(t *testing.T) {
	exp := testNow.Add(time.Hour)
	cases := []struct {
		name   string
		secret []byte
		in     Claims
		want   error
	}{
		{
			name:   "empty secret",
			secret: nil,
			in:     Claims{Sub: "a", Org: "o", Exp: exp},
			want:   ErrEmptySecret,
		},
		{
			name:   "secret of 31 bytes",
			secret: testSecret[:MinSecretLen-1],
			in:     Claims{Sub: "a", Org: "o", Exp: exp},
			want:   ErrShortSecret,
		},
		{
			name:   "no sub",
			secret: testSecret,
			in:     Claims{Org: "o", Exp: exp},
			want:   ErrClaims,
		},
		{
			name:   "no org",
			secret: testSecret,
			in:     Claims{Sub: "a", Exp: exp},
			want:   ErrClaims,
		},
		{
			name:   "bad org",
			secret: testSecret,
			in:     Claims{Sub: "a", Org: "a.b", Exp: exp},
			want:   ErrClaims,
		},
		{
			name:   "no exp",
			secret: testSecret,
			in:     Claims{Sub: "a", Org: "o"},
			want:   ErrClaims,
		},
		{
			name:   "bad scope",
			secret: testSecret,
			in:     Claims{Sub: "a", Org: "o", Exp: exp, Scope: "admin"},
			want:   ErrClaims,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Issue(tc.secret, tc.in)
			if !errors.Is(err, tc.want) || tok != "" {
				t.Fatalf(
					"Issue = %q, %v; want %v",
					tok, err, tc.want,
				)
			}
		})
	}
}

func TestCanPublish(t *testing.T) {
	cases := []struct {
		name string
		c    Claims
		org  string
		want bool
	}{
		{
			name: "publish same org",
			c:    Claims{Org: "acme", Scope: ScopePublish},
			org:  "acme",
			want: true,
		},
		{
			name: "publish any org",
			c:    Claims{Org: AnyOrg, Scope: ScopePublish},
			org:  "acme",
			want: true,
		},
		{
			name: "publish other org",
			c:    Claims{Org: "beta", Scope: ScopePublish},
			org:  "acme",
			want: false,
		},
		{
			name: "subscribe scope",
			c:    Claims{Org: "acme", Scope: ScopeSubscribe},
			org:  "acme",
			want: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.CanPublish(tc.org); got != tc.want {
				t.Fatalf(
					"CanPublish = %v, want %v",
					got, tc.want,
				)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	for _, tc := range verifyCases() {
		if tc.name != "RS256" {
			f.Add(tc.token(f))
		}
	}
	v := hsVerifier(f)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok, testNow)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrMissing) {
				t.Fatalf(
					"err %v is none of the sentinels",
					err,
				)
			}
			checkNoLeak(t, err, tok)
			return
		}
		// Accepted: it must carry a valid HS256 signature by testSecret.
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf(
				"accepted a token of %d segments",
				len(parts),
			)
		}
		sig, derr := base64.RawURLEncoding.DecodeString(parts[2])
		m := hmac.New(sha256.New, testSecret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		if derr != nil || !hmac.Equal(sig, m.Sum(nil)) {
			t.Fatal("accepted a token not signed by the secret")
		}
		if c.Sub == "" || c.Org == "" || !c.Exp.After(testNow) ||
			c.Scope != ScopeSubscribe && c.Scope != ScopePublish {
			t.Fatalf(
				"accepted claims %+v",
				c,
			)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	b.ReportAllocs()
	tok := rawToken(hs256, good("scope", "publish"), testSecret)
	v := hsVerifier(b)
	for b.Loop() {
		if _, err := v.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
