package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/transport/auth"
)

// Secrets of the tests, 32 bytes or more as every secret must be.
const (
	flagSecret = "flag-secret-0123456789abcdef-0123456789"
	envSecret  = "env-secret-0123456789abcdef-0123456789"
)

// verifyWith checks tok with an HS256 Verifier of secret that requires iss
// and aud when not empty.
func verifyWith(t *testing.T, secret []byte, iss, aud, tok string) (auth.Claims, error) {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: secret, Issuer: iss, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(tok, time.Now())
}

func TestToken(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		secret   func(t *testing.T) []byte // the key the token must verify with
		iss, aud string                    // the token must carry
		want     auth.Claims               // Exp checked against ttl
		ttl      time.Duration
	}{
		{
			name:   "secret flag",
			args:   []string{"token", "--org", "acme", "--sub", "alice", "--jwt-secret", flagSecret},
			secret: func(*testing.T) []byte { return []byte(flagSecret) },
			want:   auth.Claims{Sub: "alice", Org: "acme", Scope: auth.ScopeSubscribe},
			ttl:    time.Hour,
		},
		{
			name:   "secret env, publish scope, any org, ttl",
			args:   []string{"token", "--org", "*", "--sub", "backend", "--publish", "--ttl", "10m"},
			env:    map[string]string{"ORGSTREAM_JWT_SECRET": envSecret},
			secret: func(*testing.T) []byte { return []byte(envSecret) },
			want:   auth.Claims{Sub: "backend", Org: "*", Scope: auth.ScopePublish},
			ttl:    10 * time.Minute,
		},
		{
			name:   "flag secret wins over env",
			args:   []string{"token", "--org", "acme", "--sub", "bob", "--jwt-secret", flagSecret},
			env:    map[string]string{"ORGSTREAM_JWT_SECRET": envSecret},
			secret: func(*testing.T) []byte { return []byte(flagSecret) },
			want:   auth.Claims{Sub: "bob", Org: "acme", Scope: auth.ScopeSubscribe},
			ttl:    time.Hour,
		},
		{
			name: "secret created in data dir (flags from env)",
			args: []string{"token"},
			env: map[string]string{
				"ORGSTREAM_DATA_DIR": filepath.Join(dir, "data"),
				"ORGSTREAM_ORG":      "acme",
				"ORGSTREAM_SUB":      "carol",
				"ORGSTREAM_PUBLISH":  "true",
			},
			secret: func(t *testing.T) []byte {
				path := filepath.Join(dir, "data", "jwt-secret")
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v, want 0600", path, st.Mode().Perm())
				}
				s, err := auth.LoadOrCreateSecret(path)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			want: auth.Claims{Sub: "carol", Org: "acme", Scope: auth.ScopePublish},
			ttl:  time.Hour,
		},
		{
			name:   "topics",
			args:   []string{"token", "--org", "acme", "--sub", "erin", "--topics", "orders.*,billing.>", "--jwt-secret", flagSecret},
			secret: func(*testing.T) []byte { return []byte(flagSecret) },
			want:   auth.Claims{Sub: "erin", Org: "acme", Scope: auth.ScopeSubscribe, Topics: []string{"orders.*", "billing.>"}},
			ttl:    time.Hour,
		},
		{
			name:   "issuer and audience, from the env serve reads too",
			args:   []string{"token", "--org", "acme", "--sub", "dave", "--jwt-secret", flagSecret},
			env:    map[string]string{"ORGSTREAM_JWT_ISSUER": "https://idp.example.com/", "ORGSTREAM_JWT_AUDIENCE": "orgstream"},
			secret: func(*testing.T) []byte { return []byte(flagSecret) },
			iss:    "https://idp.example.com/",
			aud:    "orgstream",
			want:   auth.Claims{Sub: "dave", Org: "acme", Scope: auth.ScopeSubscribe},
			ttl:    time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
				t.Fatalf("stdout is not one line: %q", stdout)
			}
			tok := strings.TrimSpace(stdout)
			c, err := verifyWith(t, tt.secret(t), tt.iss, tt.aud, tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Sub != tt.want.Sub || c.Org != tt.want.Org || c.Scope != tt.want.Scope || !slices.Equal(c.Topics, tt.want.Topics) {
				t.Errorf("claims = %+v, want %+v", c, tt.want)
			}
			// exp has second precision.
			if lo, hi := before.Add(tt.ttl-time.Second), time.Now().Add(tt.ttl+time.Second); c.Exp.Before(lo) || c.Exp.After(hi) {
				t.Errorf("exp = %v, want within [%v, %v]", c.Exp, lo, hi)
			}
			if _, err := verifyWith(t, []byte("another secret of 32 bytes or more"), tt.iss, tt.aud, tok); err == nil {
				t.Error("token verifies with another secret")
			}
			if tt.iss == "" {
				if _, err := verifyWith(t, tt.secret(t), "https://idp.example.com/", "", tok); err == nil {
					t.Error("a token without iss verifies where an issuer is required")
				}
			}
		})
	}
}

// The data dir's secret is created once and reused: two tokens minted from
// it verify with the same key.
func TestTokenDataDirSecretStable(t *testing.T) {
	dir := t.TempDir()
	var toks []string
	for range 2 {
		code, stdout, stderr := runCLI(t, nil, "token", "--org", "acme", "--sub", "alice", "--data-dir", dir)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		toks = append(toks, strings.TrimSpace(stdout))
	}
	secret, err := os.ReadFile(filepath.Join(dir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadOrCreateSecret(filepath.Join(dir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) == 0 {
		t.Fatal("empty secret file")
	}
	for _, tok := range toks {
		if _, err := verifyWith(t, key, "", "", tok); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}

func TestTokenRefusals(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"bad org", []string{"--org", "ac me", "--sub", "a", "--jwt-secret", "s"}, "orgstream token: invalid value \"ac me\" for --org"},
		{"org too long", []string{"--org", strings.Repeat("a", 65), "--sub", "a", "--jwt-secret", "s"}, "--org"},
		{"negative ttl", []string{"--org", "acme", "--sub", "a", "--ttl=-1h", "--jwt-secret", "s"}, "must be positive"},
		{"bad topic pattern", []string{"--org", "acme", "--sub", "a", "--topics", "a.*,b*", "--jwt-secret", "s"}, "--topics"},
		{"bad publish bool", []string{"--org", "acme", "--sub", "a", "--publish=perhaps", "--jwt-secret", "s"}, "--publish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"token"}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stdout %q, stderr %q)", code, stdout, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tt.stderr) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tt.stderr)
			}
		})
	}
}

// publish without --token and without a secret says so instead of minting a
// token with a fresh secret the daemon does not know.
func TestPublishNeedsSecret(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, nil, "publish", "--org", "acme", "--topic", "demo", "--data", "{}", "--data-dir", dir, "--url", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "no secret") {
		t.Fatalf("exit %d, stderr %q; want 1 and a 'no secret' error", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt-secret")); err == nil {
		t.Error("publish created a secret")
	}
}

func TestPublishBadData(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "publish", "--org", "acme", "--topic", "demo", "--data", "{nope", "--token", "x")
	if code != 2 || !strings.Contains(stderr, "--data is not valid JSON") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// nats-creds creates the publisher password in the data dir (mode 0600) on
// first use and prints the same one every time, as serve reads it.
func TestNATSCredsDataDir(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, nil, "nats-creds", "--data-dir", dir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	user, pass, ok := strings.Cut(strings.TrimSuffix(out, "\n"), ":")
	if !ok || user != "publisher" || len(pass) < 32 || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout %q, want one line publisher:PASSWORD", out)
	}
	fi, err := os.Stat(filepath.Join(dir, "nats-publisher-password"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, again, _ := runCLI(t, nil, "nats-creds", "--data-dir", dir); again != out {
		t.Fatalf("second call printed %q, first %q", again, out)
	}
}
