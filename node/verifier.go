package node

import (
	"crypto"
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/transport/auth"
)

// newVerifier builds the token verifier from the config. The HS256 secret
// is always there (the data dir's, generated on first start, when none is
// given), so that `orgstream token` and --dev keep working beside an
// identity provider's keys.
func (n *Node) newVerifier() (*auth.Verifier, error) {
	cfg := &n.cfg
	secret := cfg.JWTSecret
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "jwt-secret")); err != nil {
			return nil, fmt.Errorf("node: jwt secret: %w", err)
		}
	}
	var keys []crypto.PublicKey
	if cfg.JWTPublicKeyFile != "" {
		var err error
		if keys, err = auth.LoadPublicKeys(cfg.JWTPublicKeyFile); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{
		Secret:     secret,
		PublicKeys: keys,
		JWKSURL:    cfg.JWKSURL,
		Issuer:     cfg.JWTIssuer,
		Audience:   cfg.JWTAudience,
		Logger:     n.log.Named("jwks"),
	})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if len(keys) > 0 || cfg.JWKSURL != "" || cfg.JWTIssuer != "" || cfg.JWTAudience != "" {
		n.log.Info("tokens: HS256 and keys of an identity provider",
			zap.Int("public_keys", len(keys)), zap.String("jwks_url", v.JWKSStatus().URL),
			zap.String("issuer", cfg.JWTIssuer), zap.String("audience", cfg.JWTAudience))
	}
	return v, nil
}
