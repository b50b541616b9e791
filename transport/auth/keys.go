package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// The algorithms a Verifier accepts: HS256 with the secret, and one
// algorithm per kind of public key. The alg of a public key follows from
// its type, never from the token's header: an RSA key verifies RS256 only,
// a P-256 key ES256 only, an Ed25519 key EdDSA only, and the secret HS256
// only. That closes alg confusion (a token signed with HMAC over a public
// key's bytes, or with "none").
var (
	algHS256 = jwt.SigningMethodHS256.Alg()
	algRS256 = jwt.SigningMethodRS256.Alg()
	algES256 = jwt.SigningMethodES256.Alg()
	algEdDSA = jwt.SigningMethodEdDSA.Alg()
)

// publicAlgs are the algorithms of public keys, in the order of the docs.
var publicAlgs = []string{algRS256, algES256, algEdDSA}

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// ErrUnsupportedKey is returned for a public key no accepted algorithm
// uses: an RSA key under MinRSABits, an EC key off P-256, an X25519 key, …
var ErrUnsupportedKey = errors.New("auth: unsupported public key")

// keyAlg is the one algorithm key verifies, or ErrUnsupportedKey.
func keyAlg(key any) (string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < MinRSABits {
			return "", fmt.Errorf("%w: RSA key under %d bits", ErrUnsupportedKey, MinRSABits)
		}
		return algRS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: EC key not on P-256 (ES256 only)", ErrUnsupportedKey)
		}
		return algES256, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("%w: Ed25519 key of %d bytes", ErrUnsupportedKey, len(k))
		}
		return algEdDSA, nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
}

// keyFits reports whether key may verify a token of alg.
func keyFits(alg string, key any) bool {
	a, err := keyAlg(key)
	return err == nil && a == alg
}
