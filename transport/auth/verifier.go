package auth

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// ClockSkew is how far in the future nbf and iat may be: the clocks of an
// identity provider and of orgstream's nodes differ by a little. exp gets
// no such leeway: a token is refused from its exp on, as PROTOCOL.md says.
const ClockSkew = 5 * time.Second

// Defaults of VerifierConfig.
const (
	DefaultJWKSRefresh    = 5 * time.Minute
	DefaultJWKSMinRefetch = 10 * time.Second
	DefaultJWKSTimeout    = 10 * time.Second
	DefaultJWKSMaxBytes   = 1 << 20
)

// ErrVerifierConfig wraps every VerifierConfig error of NewVerifier.
var ErrVerifierConfig = errors.New("auth: invalid verifier config")

// ErrNoSecret is returned by Verifier.Issue when the Verifier has no HS256
// secret.
var ErrNoSecret = errors.New("auth: no HS256 secret")

// VerifierConfig says which tokens a Verifier accepts. At least one key
// source is required: Secret, PublicKeys or JWKSURL; tokens of any of them
// are accepted side by side.
type VerifierConfig struct {
	// Secret is the HS256 key, at least MinSecretLen bytes. Empty means
	// HS256 tokens are refused.
	Secret []byte
	// PublicKeys verify tokens signed by their private keys: RS256 for an
	// RSA key (2048 bits or more), ES256 for a P-256 key, EdDSA for an
	// Ed25519 key (see LoadPublicKeys). A token's kid is not needed: every
	// key of the right type is tried. Empty means none.
	PublicKeys []crypto.PublicKey
	// JWKSURL is an http(s) URL of a JWK set (an identity provider's
	// jwks_uri). Its RS256, ES256 and EdDSA signing keys verify tokens,
	// chosen by the token's kid. Empty means none.
	JWKSURL string

	// Issuer, when set, must equal every token's iss. Empty means iss is
	// not checked.
	Issuer string
	// Audience, when set, must be one of every token's aud. Empty means
	// aud is not checked.
	Audience string

	// JWKSRefresh is how often the JWKS is fetched again. Zero means
	// DefaultJWKSRefresh.
	JWKSRefresh time.Duration
	// JWKSMinRefetch rate-limits the fetches caused by tokens with an
	// unknown kid: one happens only if the last fetch (of any cause)
	// started at least this long ago. It is also the first retry delay
	// after a failed fetch. Zero means DefaultJWKSMinRefetch.
	JWKSMinRefetch time.Duration
	// JWKSTimeout bounds one fetch of the JWKS. Zero means
	// DefaultJWKSTimeout.
	JWKSTimeout time.Duration
	// JWKSMaxBytes bounds the JWKS document. Zero means DefaultJWKSMaxBytes.
	JWKSMaxBytes int64
	// HTTPClient fetches the JWKS. Nil means a new http.Client (proxies
	// from the environment, redirects followed); JWKSTimeout applies to it
	// either way.
	HTTPClient *http.Client

	// Logger receives the JWKS fetch results (never a token). Nil means no
	// logs.
	Logger *zap.Logger
}

// validate checks c and fills its defaults.
func (c *VerifierConfig) validate() error {
	if len(c.Secret) == 0 && len(c.PublicKeys) == 0 && c.JWKSURL == "" {
		return fmt.Errorf("%w: no key: set Secret, PublicKeys or JWKSURL", ErrVerifierConfig)
	}
	if len(c.Secret) > 0 {
		if err := checkSecret(c.Secret); err != nil {
			return fmt.Errorf("%w: %w", ErrVerifierConfig, err)
		}
	}
	for i, k := range c.PublicKeys {
		if _, err := keyAlg(k); err != nil {
			return fmt.Errorf("%w: public key %d: %w", ErrVerifierConfig, i+1, err)
		}
	}
	if c.JWKSRefresh < 0 || c.JWKSMinRefetch < 0 || c.JWKSTimeout < 0 || c.JWKSMaxBytes < 0 {
		return fmt.Errorf("%w: negative JWKS setting", ErrVerifierConfig)
	}
	if c.JWKSRefresh == 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.JWKSMinRefetch == 0 {
		c.JWKSMinRefetch = DefaultJWKSMinRefetch
	}
	if c.JWKSTimeout == 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	if c.JWKSMaxBytes == 0 {
		c.JWKSMaxBytes = DefaultJWKSMaxBytes
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// Verifier checks tokens: their signature by the secret, a public key or
// the JWKS, then exp (exactly), nbf and iat (with ClockSkew), iss and aud
// (when configured) and orgstream's own claims. Its methods are safe for
// concurrent use. With a JWKSURL it runs a goroutine; Close stops it.
type Verifier struct {
	cfg     VerifierConfig
	secret  []byte
	pub     []crypto.PublicKey
	jwks    *jwksSource // nil without JWKSURL
	methods []string    // the algs a token may name
	cache   *verifiedCache

	closeOnce sync.Once
}

// NewVerifier checks cfg and builds a Verifier. With a JWKSURL, the first
// fetch starts in the background: NewVerifier does not wait for the
// identity provider, and tokens that arrive before the keys do wait for
// that fetch.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, secret: cfg.Secret, pub: cfg.PublicKeys, cache: newVerifiedCache(cacheMaxEntries)}
	if len(v.secret) > 0 {
		v.methods = append(v.methods, algHS256)
	}
	for _, alg := range publicAlgs {
		ok := cfg.JWKSURL != ""
		for _, k := range v.pub {
			ok = ok || keyFits(alg, k)
		}
		if ok {
			v.methods = append(v.methods, alg)
		}
	}
	if cfg.JWKSURL != "" {
		j, err := newJWKSSource(&v.cfg)
		if err != nil {
			return nil, err
		}
		v.jwks = j
	}
	return v, nil
}

// Verify checks token at time now. An empty token is ErrMissing; a token
// whose exp is at or before now is ErrExpired (once its signature is
// good); anything else wrong is ErrInvalid, wrapping the jwt sentinel
// (jwt.ErrTokenSignatureInvalid, jwt.ErrTokenInvalidIssuer, …) that says
// why. The error text never contains the token or a part of it.
//
// A token whose kid the cached JWKS lacks makes the JWKS be fetched again
// (at most once per JWKSMinRefetch) before it is refused, so that keys an
// identity provider adds are picked up at once.
//
// A token verified before (within a minute, under the same JWK set) is not
// verified again: its claims come from a cache (cache.go), and only exp is
// checked against now.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, ErrMissing
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxTokenLen)
	}
	key := sha256.Sum256([]byte(token))
	set := v.jwksSet() // before verifying: a fetch meanwhile outdates the entry
	if c, ok := v.cache.get(key, now, set); ok {
		if !now.Before(c.Exp) {
			return Claims{}, ErrExpired
		}
		return c, nil
	}
	c, unknownKID, err := v.verify(token, now)
	if err != nil && unknownKID && v.jwks != nil && v.jwks.refetch() {
		set = v.jwksSet()
		c, _, err = v.verify(token, now)
	}
	if err == nil {
		v.cache.put(key, verifiedEntry{claims: c, added: now, set: set})
	}
	return c, err
}

// jwksSet is the JWK set in force, nil without a JWKS or before its first
// fetch.
func (v *Verifier) jwksSet() *jwksSet {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.set.Load()
}

// verify is one attempt of Verify with the keys at hand.
func (v *Verifier) verify(token string, now time.Time) (c Claims, unknownKID bool, err error) {
	p := jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithStrictDecoding(),
		jwt.WithoutClaimsValidation(), // below, with exp exact
	)
	var w wireClaims
	_, err = p.ParseWithClaims(token, &w, func(t *jwt.Token) (any, error) {
		keys, unknown := v.keysFor(t)
		unknownKID = unknown
		if len(keys) == 0 {
			return nil, errNoKey
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	})
	if err != nil {
		return Claims{}, unknownKID, mapError(err)
	}
	// jwt's leeway would apply to exp as well: exp is checked here, exactly.
	if w.ExpiresAt == nil {
		return Claims{}, false, fmt.Errorf("%w: %w", ErrInvalid, jwt.ErrTokenRequiredClaimMissing)
	}
	if !now.Before(w.ExpiresAt.Time) {
		return Claims{}, false, ErrExpired
	}
	opts := []jwt.ParserOption{
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(ClockSkew),
		jwt.WithIssuedAt(),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	if err := jwt.NewValidator(opts...).Validate(&w); err != nil {
		return Claims{}, false, mapError(err)
	}
	c, err = claimsOf(&w)
	return c, false, err
}

// errNoKey is what the key function returns when no key fits; jwt wraps it
// in jwt.ErrTokenUnverifiable.
var errNoKey = errors.New("auth: no key for this token")

// keysFor returns the keys that may verify t: the secret for HS256, else
// the public keys and JWKS keys whose type is that of t's alg. unknownKID
// reports a kid the cached JWKS lacks.
func (v *Verifier) keysFor(t *jwt.Token) (keys []jwt.VerificationKey, unknownKID bool) {
	alg := t.Method.Alg()
	if alg == algHS256 {
		if len(v.secret) == 0 {
			return nil, false
		}
		return []jwt.VerificationKey{v.secret}, false
	}
	for _, k := range v.pub {
		if keyFits(alg, k) {
			keys = append(keys, k)
		}
	}
	if v.jwks != nil {
		ks, unknown := v.jwks.keys(t)
		unknownKID = unknown
		for _, k := range ks {
			if keyFits(alg, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys, unknownKID
}

// Issue signs c with the Verifier's secret (HS256), with its Issuer and
// Audience unless c has its own, so that the token verifies here. It is
// ErrNoSecret without a secret.
func (v *Verifier) Issue(c Claims) (string, error) {
	if len(v.secret) == 0 {
		return "", ErrNoSecret
	}
	if c.Issuer == "" {
		c.Issuer = v.cfg.Issuer
	}
	if c.Audience == "" {
		c.Audience = v.cfg.Audience
	}
	return Issue(v.secret, c)
}

// JWKSStatus reports the JWKS's state; its State is empty without a
// JWKSURL.
func (v *Verifier) JWKSStatus() JWKSStatus {
	if v.jwks == nil {
		return JWKSStatus{}
	}
	return v.jwks.Status()
}

// Close stops the JWKS fetches (aborting one in flight) and waits for the
// goroutine. Verify still works afterwards with the keys at hand. Safe to
// call twice.
func (v *Verifier) Close() {
	v.closeOnce.Do(func() {
		if v.jwks != nil {
			v.jwks.close()
		}
	})
}
