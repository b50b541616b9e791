package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// MinSecretLen is the shortest HS256 secret accepted, in bytes: HS256 is
// only as strong as its key, and RFC 7518 section 3.2 asks for a key at
// least as long as the hash (32 bytes).
const MinSecretLen = 32

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

// ErrShortSecret is returned for a secret shorter than MinSecretLen bytes.
var ErrShortSecret = fmt.Errorf("auth: secret shorter than %d bytes", MinSecretLen)

// Claims are the claims orgstream reads.
type Claims struct {
	Sub   string
	Org   string
	Exp   time.Time
	Scope string // ScopeSubscribe (the default when absent) or ScopePublish
	// IssuedAt is the iat claim. Zero value means time.Now() for Issue;
	// Verify leaves it zero when the token has none.
	IssuedAt time.Time
	// Issuer and Audience are the iss and aud claims Issue writes; empty
	// means none. Verify checks them against its VerifierConfig and does
	// not fill them in.
	Issuer   string
	Audience string
	// Topics is the topics claim: the topic patterns the token's streams
	// receive (messages.ParsePatterns: 1 to messages.MaxPatterns valid
	// patterns). Nil means every topic (no claim).
	Topics []string
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
	// Topics is decoded by claimsOf, so that a claim of the wrong type
	// gets a clear refusal rather than a decoding error.
	Topics json.RawMessage `json:"topics,omitempty"`
}

// checkSecret refuses an HS256 secret that is empty or too short.
func checkSecret(secret []byte) error {
	switch {
	case len(secret) == 0:
		return ErrEmptySecret
	case len(secret) < MinSecretLen:
		return fmt.Errorf("%w (it has %d)", ErrShortSecret, len(secret))
	}
	return nil
}

// Issue signs claims with secret (HS256), which must be at least
// MinSecretLen bytes. Sub, Org and Exp are required; an empty Scope is
// written as ScopeSubscribe. Exp is truncated to the second. An Exp in the
// past is allowed (tests issue expired tokens).
func Issue(secret []byte, c Claims) (string, error) {
	if err := checkSecret(secret); err != nil {
		return "", err
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
			Issuer:    c.Issuer,
			Subject:   c.Sub,
			ExpiresAt: jwt.NewNumericDate(c.Exp),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		},
		Org:   c.Org,
		Scope: &c.Scope,
	}
	if c.Topics != nil {
		raw, err := json.Marshal(c.Topics)
		if err != nil {
			return "", fmt.Errorf("auth: encode topics: %w", err)
		}
		w.Topics = raw
	}
	if c.Audience != "" {
		w.Audience = jwt.ClaimStrings{c.Audience}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, w).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// claimsOf turns verified wire claims into Claims, checking what orgstream
// itself requires of them.
func claimsOf(w *wireClaims) (Claims, error) {
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
	topics, err := topicsOf(w.Topics)
	if err != nil {
		return Claims{}, err
	}
	c.Topics = topics
	return c, nil
}

// ErrTopics means the token's topics claim is not an array of 1 to
// messages.MaxPatterns valid topic patterns (401, with a message that says
// so). It wraps ErrInvalid.
var ErrTopics = fmt.Errorf("%w: topics claim", ErrInvalid)

// topicsOf decodes the topics claim: absent or null is nil (every topic).
// An empty array is refused rather than read as "no topic": a token that
// can see nothing is a mistake worth a clear error.
func topicsOf(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var ts []string
	if err := json.Unmarshal(raw, &ts); err != nil {
		return nil, fmt.Errorf("%w: not an array of strings", ErrTopics)
	}
	if err := messages.ParsePatterns(ts); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTopics, strings.ReplaceAll(err.Error(), "messages: ", ""))
	}
	return ts, nil
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
	case c.Topics != nil && messages.ParsePatterns(c.Topics) != nil:
		return fmt.Errorf("topics: %w", messages.ParsePatterns(c.Topics))
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
	jwt.ErrTokenInvalidIssuer,
	jwt.ErrTokenInvalidAudience,
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
