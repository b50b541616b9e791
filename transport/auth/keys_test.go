package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKey is a key pair of one accepted algorithm.
type testKey struct {
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer
	pub    crypto.PublicKey
}

var (
	keysOnce sync.Once
	keyPool  map[string][]testKey // by alg, two pairs each
)

// testKeys returns two fresh key pairs per algorithm (RS256, ES256,
// EdDSA), generated once per test binary: RSA keys are slow to make.
func testKeys(t testing.TB) map[string][]testKey {
	t.Helper()
	keysOnce.Do(func() {
		keyPool = map[string][]testKey{}
		for range 2 {
			r, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			epub, ed, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				panic(err)
			}
			keyPool[algRS256] = append(keyPool[algRS256], testKey{algRS256, jwt.SigningMethodRS256, r, &r.PublicKey})
			keyPool[algES256] = append(keyPool[algES256], testKey{algES256, jwt.SigningMethodES256, e, &e.PublicKey})
			keyPool[algEdDSA] = append(keyPool[algEdDSA], testKey{algEdDSA, jwt.SigningMethodEdDSA, ed, epub})
		}
	})
	return keyPool
}

// sign signs claims with k, with kid in the header unless empty.
func (k testKey) sign(t testing.TB, claims map[string]any, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, jwt.MapClaims(claims))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkixPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

// certPEM is a self-signed certificate of k's public key.
func certPEM(t testing.TB, k testKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "idp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.pub, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "CERTIFICATE", der)
}

func TestParsePublicKeys(t *testing.T) {
	keys := testKeys(t)
	rs, es, ed := keys[algRS256][0], keys[algES256][0], keys[algEdDSA][0]
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPriv, err := x509.MarshalPKCS8PrivateKey(ed.priv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pem  func(t *testing.T) []byte
		algs []string // of the keys, in order
		err  error    // nil when valid
	}{
		{
			name: "RSA PKIX",
			pem:  func(t *testing.T) []byte { return pkixPEM(t, rs.pub) },
			algs: []string{algRS256},
		},
		{
			name: "RSA PKCS1",
			pem: func(t *testing.T) []byte {
				return pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(rs.pub.(*rsa.PublicKey)))
			},
			algs: []string{algRS256},
		},
		{
			name: "EC P-256",
			pem:  func(t *testing.T) []byte { return pkixPEM(t, es.pub) },
			algs: []string{algES256},
		},
		{
			name: "Ed25519",
			pem:  func(t *testing.T) []byte { return pkixPEM(t, ed.pub) },
			algs: []string{algEdDSA},
		},
		{
			name: "certificate",
			pem:  func(t *testing.T) []byte { return certPEM(t, es) },
			algs: []string{algES256},
		},
		{
			name: "three keys with text around, as for a rotation",
			pem: func(t *testing.T) []byte {
				return []byte("old key:\n" + string(pkixPEM(t, rs.pub)) + "new keys:\n" +
					string(pkixPEM(t, ed.pub)) + string(certPEM(t, rs)) + "end\n")
			},
			algs: []string{algRS256, algEdDSA, algRS256},
		},
		{
			name: "empty",
			pem:  func(*testing.T) []byte { return nil },
			err:  ErrNoPublicKey,
		},
		{
			name: "text only",
			pem:  func(*testing.T) []byte { return []byte("ssh-ed25519 AAAAC3Nza user@host\n") },
			err:  ErrNoPublicKey,
		},
		{
			name: "private key",
			pem:  func(t *testing.T) []byte { return pemOf(t, "PRIVATE KEY", edPriv) },
			err:  errAny,
		},
		{
			name: "a private key after a good one",
			pem: func(t *testing.T) []byte {
				return append(pkixPEM(t, ed.pub), pemOf(t, "PRIVATE KEY", edPriv)...)
			},
			err: errAny,
		},
		{
			name: "RSA of 1024 bits",
			pem:  func(t *testing.T) []byte { return pkixPEM(t, &small.PublicKey) },
			err:  ErrUnsupportedKey,
		},
		{
			name: "EC P-384",
			pem:  func(t *testing.T) []byte { return pkixPEM(t, &p384.PublicKey) },
			err:  ErrUnsupportedKey,
		},
		{
			name: "unknown block",
			pem:  func(t *testing.T) []byte { return pemOf(t, "OPENSSH PUBLIC KEY", []byte{1, 2, 3}) },
			err:  errAny,
		},
		{
			name: "corrupt public key",
			pem:  func(t *testing.T) []byte { return pemOf(t, "PUBLIC KEY", []byte{0x30, 0x03, 1, 2, 3}) },
			err:  errAny,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKeys(tc.pem(t))
			if tc.err != nil {
				if err == nil || (tc.err != errAny && !errors.Is(err, tc.err)) {
					t.Fatalf(
						"err = %v, want %v",
						err, tc.err,
					)
				}
				if got != nil {
					t.Fatalf(
						"keys returned with an error: %v",
						got,
					)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.algs) {
				t.Fatalf(
					"%d keys, want %d",
					len(got), len(tc.algs),
				)
			}
			for i, k := range got {
				if a, err := keyAlg(k); err != nil || a != tc.algs[i] {
					t.Fatalf(
						"key %d: alg %q, %v; want %q",
						i, a, err, tc.algs[i],
					)
				}
			}
		})
	}
}

// errAny stands for "some error" in the tables.
var errAny = errors.New("any error")

func TestLoadPublicKeys(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(good, pkixPEM(t, testKeys(t)[algEdDSA][0].pub), 0o644); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large.pem")
	if err := os.WriteFile(large, []byte(strings.Repeat("x", MaxPublicKeyFile+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if keys, err := LoadPublicKeys(good); err != nil || len(keys) != 1 {
		t.Fatalf(
			"good file: %v, %v",
			keys, err,
		)
	}
	for _, path := range []string{filepath.Join(dir, "missing.pem"), large, dir} {
		if _, err := LoadPublicKeys(path); err == nil {
			t.Fatalf(
				"%s: no error",
				path,
			)
		}
	}
}

func FuzzParsePublicKeys(f *testing.F) {
	keys := testKeys(f)
	f.Add(pkixPEM(f, keys[algRS256][0].pub))
	f.Add(pkixPEM(f, keys[algES256][0].pub))
	f.Add(append(pkixPEM(f, keys[algEdDSA][0].pub), certPEM(f, keys[algEdDSA][1])...))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePublicKeys(data)
		if err != nil {
			if got != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no key and no error")
		}
		for _, k := range got {
			if _, err := keyAlg(k); err != nil {
				t.Fatalf(
					"accepted a key no algorithm uses: %v",
					err,
				)
			}
		}
	})
}
