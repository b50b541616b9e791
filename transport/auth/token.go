package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstream/orgstream/messages"
)

// Scopes a token may carry.
const (
	ScopeSubscribe = "subscribe"
	ScopePublish   = "publish"
)

// AnyOrg is the org claim of a publisher allowed on every org.
const AnyOrg = "*"

// MaxTokenLen bounds the tokens Verify reads; longer ones are ErrInvalid
// without being parsed.
const MaxTokenLen = 8 << 10

// Errors of Verify; each maps to 401.
var (
	ErrMissing = errors.New("auth: missing token")
	ErrInvalid = errors.New("auth: invalid token")
	ErrExpired = errors.New("auth: token expired")
)

// ErrClaims is returned by Issue for claims that Verify would refuse.
var ErrClaims = errors.New("auth: invalid claims")

// ErrEmptySecret is returned for an empty signing secret (an empty key would
// make every token forgeable).
var ErrEmptySecret = errors.New("auth: empty secret")

// Claims are the claims orgstream reads.
type Claims struct {
	Sub   string
	Org   string
	Exp   time.Time
	Scope string // ScopeSubscribe (the default when absent) or ScopePublish
	// IssuedAt is the iat claim. Zero value means time.Now() for Issue;
	// Verify leaves it zero when the token has none.
	IssuedAt time.Time
}

// CanPublish reports whether the claims allow publishing to org.
func (c Claims) CanPublish(org string) bool {
	return c.Scope == ScopePublish && (c.Org == org || c.Org == AnyOrg)
}

// wireClaims is the JSON of a token's claims.
type wireClaims struct {
	jwt.RegisteredClaims
	Org string `json:"org"`
	// Scope is a pointer to tell an absent scope (the default) from "".
	Scope *string `json:"scope,omitempty"`
}

// Issue signs claims with secret (HS256). Sub, Org and Exp are required; an
// empty Scope is written as ScopeSubscribe. Exp is truncated to the second.
// An Exp in the past is allowed (tests issue expired tokens).
func Issue(secret []byte, c Claims) (string, error) {
	if len(secret) == 0 {
		return "", ErrEmptySecret
	}
	if c.Scope == "" {
		c.Scope = ScopeSubscribe
	}
	if err := checkClaims(c); err != nil {
		return "", fmt.Errorf("%w: %s", ErrClaims, err)
	}
	if c.Exp.IsZero() {
		return "", fmt.Errorf("%w: exp is required", ErrClaims)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	w := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Sub,
			ExpiresAt: jwt.NewNumericDate(c.Exp),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		},
		Org:   c.Org,
		Scope: &c.Scope,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, w).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// Verify checks the token's signature (HS256 only), its required claims (sub,
// org, exp) and its expiry against now: a token whose exp is at or before now
// is ErrExpired. An empty token is ErrMissing; anything else wrong is
// ErrInvalid, wrapping the jwt sentinel (jwt.ErrTokenSignatureInvalid, …)
// that says why. The error text never contains the token.
func Verify(secret []byte, token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, ErrMissing
	}
	if len(secret) == 0 {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, ErrEmptySecret)
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxTokenLen)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
	)
	var w wireClaims
	_, err := p.ParseWithClaims(token, &w, func(*jwt.Token) (any, error) { return secret, nil })
	if err != nil {
		return Claims{}, mapError(err)
	}
	c := Claims{
		Sub:   w.Subject,
		Org:   w.Org,
		Exp:   w.ExpiresAt.Time,
		Scope: ScopeSubscribe,
	}
	if w.IssuedAt != nil {
		c.IssuedAt = w.IssuedAt.Time
	}
	if w.Scope != nil {
		c.Scope = *w.Scope
	}
	if err := checkClaims(c); err != nil {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalid, err)
	}
	return c, nil
}

// checkClaims validates what both Issue and Verify require.
func checkClaims(c Claims) error {
	switch {
	case c.Sub == "":
		return errors.New("sub is required")
	case c.Org == "":
		return errors.New("org is required")
	case c.Org != AnyOrg && !messages.ValidOrg(c.Org):
		return errors.New(`org must be "*" or match ^[A-Za-z0-9_-]{1,64}$`)
	case c.Scope != ScopeSubscribe && c.Scope != ScopePublish:
		return errors.New(`scope must be "subscribe" or "publish"`)
	}
	return nil
}

// jwtReasons are the jwt sentinels Verify passes on. Only the sentinel is
// wrapped, not jwt's full error, whose text may quote decoded token bytes.
var jwtReasons = []error{
	jwt.ErrTokenMalformed,
	jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenUnverifiable,
	jwt.ErrTokenRequiredClaimMissing,
	jwt.ErrTokenNotValidYet,
	jwt.ErrTokenUsedBeforeIssued,
	jwt.ErrTokenInvalidClaims,
}

func mapError(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) {
		return ErrExpired
	}
	for _, reason := range jwtReasons {
		if errors.Is(err, reason) {
			return fmt.Errorf("%w: %w", ErrInvalid, reason)
		}
	}
	return ErrInvalid
}
