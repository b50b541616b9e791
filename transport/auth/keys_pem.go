package auth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxPublicKeyFile bounds the PEM file LoadPublicKeys reads.
const MaxPublicKeyFile = 1 << 20

// ErrNoPublicKey is returned for PEM input without any public key.
var ErrNoPublicKey = errors.New("auth: no public key in PEM")

// LoadPublicKeys reads the PEM file at path (see ParsePublicKeys).
func LoadPublicKeys(path string) ([]crypto.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: public key: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, MaxPublicKeyFile+1)); err != nil {
		return nil, fmt.Errorf("auth: public key: %w", err)
	}
	if b.Len() > MaxPublicKeyFile {
		return nil, fmt.Errorf("auth: public key: %s is larger than %d bytes", path, MaxPublicKeyFile)
	}
	keys, err := ParsePublicKeys(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return keys, nil
}

// ParsePublicKeys decodes every PEM block of data into a public key:
// "PUBLIC KEY" (PKIX: RSA, EC P-256 or Ed25519), "RSA PUBLIC KEY" (PKCS #1)
// or "CERTIFICATE" (its key; the certificate itself is not checked). Several
// blocks give several keys, which is how keys are rotated with a file: the
// new key is added beside the old one, then the old one removed. Text
// around the blocks is ignored, as openssl writes it. A private key, an
// unknown block or a key that no accepted algorithm uses is an error, and
// so is input without any block (ErrNoPublicKey).
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := parsePEMBlock(block)
		if err != nil {
			return nil, fmt.Errorf("auth: PEM block %d (%s): %w", n, block.Type, err)
		}
		if _, err := keyAlg(key); err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, ErrNoPublicKey
	}
	return keys, nil
}

func parsePEMBlock(b *pem.Block) (crypto.PublicKey, error) {
	switch b.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, errors.New("a private key; give the public key only (openssl pkey -pubout)")
	}
	return nil, errors.New("not a public key block")
}
