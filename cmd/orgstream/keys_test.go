package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret under 32 bytes, from the flag, the env or the data dir's file,
// exits 2 with one line that does not show it, before anything is created.
func TestShortSecretExits2(t *testing.T) {
	const short = "tooshort-s3cr3t"                  // 15 bytes
	const almost = "a-secret-of-thirty-one-bytes..." // 31 bytes
	shortFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(shortFile, "jwt-secret"), []byte(short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	publish := []string{"publish", "--org", "acme", "--topic", "t", "--data", "{}", "--url", "http://127.0.0.1:1"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		dataDir string // empty: a fresh one, which must stay empty
	}{
		{name: "serve flag", args: []string{"serve", "--jwt-secret", short}},
		{name: "serve flag, 31 bytes", args: []string{"serve", "--jwt-secret", almost}},
		{name: "serve env", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_JWT_SECRET": short}},
		{name: "serve data dir file", args: []string{"serve"}, dataDir: shortFile},
		{name: "token flag", args: []string{"token", "--org", "acme", "--sub", "a", "--jwt-secret", short}},
		{name: "token env", args: []string{"token", "--org", "acme", "--sub", "a"}, env: map[string]string{"ORGSTREAM_JWT_SECRET": almost}},
		{name: "token data dir file", args: []string{"token", "--org", "acme", "--sub", "a"}, dataDir: shortFile},
		{name: "publish flag", args: append(publish, "--jwt-secret", short)},
		{name: "publish data dir file", args: publish, dataDir: shortFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dataDir
			if dir == "" {
				dir = t.TempDir()
			}
			code, stdout, stderr := runCLI(t, tt.env, append(tt.args, "--data-dir", dir)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "32") {
				t.Errorf("stderr %q, want one line saying 32 bytes", stderr)
			}
			for _, secret := range []string{short, almost} {
				if strings.Contains(stderr, secret) {
					t.Errorf("stderr %q shows the secret", stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if tt.dataDir == "" {
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("the data dir got %d entries", len(ents))
				}
			}
		})
	}
}

// Bad --jwks-url and --jwt-public-key exit 2 with one line, before the
// data dir is touched; the URL's credentials are not shown.
func TestServeKeyFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	privFile := filepath.Join(dir, "private.pem")
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		stderr string
	}{
		{name: "JWKS URL of another scheme", args: []string{"--jwks-url", "ftp://idp:pa55w0rd@idp.example.com/jwks"}, stderr: "--jwks-url"},
		{name: "JWKS URL without host", args: []string{"--jwks-url", "/jwks"}, stderr: "--jwks-url"},
		{name: "JWKS URL from env", env: map[string]string{"ORGSTREAM_JWKS_URL": "idp.example.com/jwks?key=pa55w0rd"}, stderr: "--jwks-url"},
		{name: "missing public key file", args: []string{"--jwt-public-key", filepath.Join(dir, "none.pem")}, stderr: "--jwt-public-key"},
		{name: "private key file", args: []string{"--jwt-public-key", privFile}, stderr: "private key"},
		{name: "not PEM", args: []string{"--jwt-public-key", "/dev/null"}, stderr: "no public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			code, stdout, stderr := runCLI(t, tt.env, append([]string{"serve", "--data-dir", data}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.stderr)
			}
			if strings.Contains(stderr, "pa55w0rd") {
				t.Errorf("stderr %q shows the URL's credentials", stderr)
			}
			if ents, _ := os.ReadDir(data); len(ents) != 0 {
				t.Errorf("the data dir got %d entries", len(ents))
			}
		})
	}
}
