package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestCLI checks the command-line contract of PROTOCOL.md "Configuration"
// on the built binary.
func TestCLI(t *testing.T) {
	closeIdle(t)

	t.Run("unknown flag exits 2 with one line", func(t *testing.T) {
		for _, args := range [][]string{
			{"serve", "--no-such-flag"},
			{"token", "--no-such-flag"},
			{"publish", "--no-such-flag"},
		} {
			stdout, stderr, code := runCLI(t, nil, args...)
			if code != 2 {
				t.Errorf("orgstream %s: exit %d, want 2", strings.Join(args, " "), code)
			}
			line := strings.TrimSuffix(stderr, "\n")
			if line == "" || strings.Contains(line, "\n") || !strings.Contains(line, "no-such-flag") {
				t.Errorf("orgstream %s: stderr %q, want one line naming the flag", strings.Join(args, " "), stderr)
			}
			if stdout != "" {
				t.Errorf("orgstream %s: stdout %q, want nothing", strings.Join(args, " "), stdout)
			}
		}
	})

	t.Run("a secret under 32 bytes exits 2 with one line", func(t *testing.T) {
		const short = "short-s3cr3t"
		for _, tc := range []struct {
			args []string
			env  []string
		}{
			{args: []string{"serve", "--jwt-secret", short}},
			{args: []string{"serve"}, env: []string{"ORGSTREAM_JWT_SECRET=" + short}},
			{args: []string{"token", "--org", "acme", "--sub", "a", "--jwt-secret", short}},
			{args: []string{"publish", "--org", "acme", "--topic", "t", "--data", "{}", "--jwt-secret", short}},
		} {
			dir := t.TempDir()
			stdout, stderr, code := runCLI(t, tc.env, append(tc.args, "--data-dir", dir)...)
			line := strings.TrimSuffix(stderr, "\n")
			if code != 2 || line == "" || strings.Contains(line, "\n") || !strings.Contains(line, "32") || stdout != "" {
				t.Errorf("orgstream %s (env %v): exit %d, stdout %q, stderr %q; want 2 and one line about 32 bytes",
					strings.Join(tc.args, " "), tc.env, code, stdout, stderr)
			}
			if strings.Contains(stderr, short) {
				t.Errorf("stderr %q shows the secret", stderr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("orgstream %s wrote to the data dir before refusing", tc.args[0])
			}
		}
	})

	t.Run("pprof on a non-loopback address exits 2 with one line", func(t *testing.T) {
		for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
			stdout, stderr, code := runCLI(t, nil, "serve", "--data-dir", t.TempDir(), "--pprof-listen", addr)
			line := strings.TrimSuffix(stderr, "\n")
			if code != 2 || line == "" || strings.Contains(line, "\n") ||
				!strings.Contains(line, "--pprof-listen") || !strings.Contains(line, "loopback") {
				t.Errorf("serve --pprof-listen %s: exit %d, stderr %q; want 2 and one line naming the flag and the loopback rule",
					addr, code, stderr)
			}
			if stdout != "" {
				t.Errorf("serve --pprof-listen %s: stdout %q, want nothing", addr, stdout)
			}
		}
	})

	t.Run("version", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, nil, "version")
		if code != 0 || !strings.HasPrefix(stdout, "orgstream ") {
			t.Errorf("orgstream version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("data dir secret, token and publish commands", func(t *testing.T) {
		d := startDaemon(t, spec{})
		st, err := os.Stat(filepath.Join(d.DataDir, "jwt-secret"))
		if err != nil {
			t.Fatalf("after the first start: %v", err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("jwt-secret mode %v, want 0600", mode)
		}

		tok := mintCLI(t, nil, "--org", "acme", "--sub", "alice", "--data-dir", d.DataDir)
		ctx := phase(t)
		c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, tok, nil), nil)
		w := c.ExpectWelcome(ctx)
		if w.User != "alice" || w.Org != "acme" {
			t.Fatalf("welcome %s, want user alice org acme", w.Raw)
		}

		stdout, stderr, code := runCLI(t, nil, "publish", "--org", "acme", "--topic", "t",
			"--data", `{"a":1}`, "--url", d.Base, "--data-dir", d.DataDir)
		if code != 0 {
			t.Fatalf("orgstream publish: exit %d, stderr %q", code, stderr)
		}
		var a struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal([]byte(stdout), &a); err != nil || a.Seq != 1 || strings.Count(stdout, "\n") != 1 {
			t.Fatalf("orgstream publish printed %q, want {\"seq\":1}", stdout)
		}
		f := c.ExpectFrame(ctx, "event")
		if f.Seq != 1 || f.Topic != "t" || string(f.Data) != `{"a":1}` {
			t.Fatalf("event %s, want seq 1 topic t data {\"a\":1}", f.Raw)
		}

		// A publish refused by the daemon exits 1.
		_, stderr, code = runCLI(t, nil, "publish", "--org", "acme", "--topic", "t",
			"--data", `{"a":1}`, "--url", d.Base, "--jwt-secret", "not-the-daemons-secret-0123456789abcdef")
		if code != 1 || !strings.Contains(stderr, "401") {
			t.Errorf("publish with a foreign secret: exit %d, stderr %q; want 1 and the 401", code, stderr)
		}
	})

	t.Run("ORGSTREAM_LISTEN", func(t *testing.T) {
		// startDaemon passes the address only as ORGSTREAM_LISTEN and waits
		// for /readyz there: reaching it proves the env was honoured.
		d := startDaemon(t, spec{ListenViaEnv: true})
		resp, err := http.Get(d.Base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz on the env's address: %d", resp.StatusCode)
		}
	})

	t.Run("jwt secret from flag and env", func(t *testing.T) {
		const secret = "e2e-secret-0123456789abcdef-0123456789"
		for _, tc := range []struct {
			name string
			s    spec
		}{
			{"flag", spec{Args: []string{"--jwt-secret", secret}}},
			{"env", spec{Env: []string{"ORGSTREAM_JWT_SECRET=" + secret}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d := startDaemon(t, tc.s)
				ctx := phase(t)
				good := testkit.Token(t, []byte(secret), "acme", "bob", time.Hour, false)
				c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, good, nil), nil)
				if w := c.ExpectWelcome(ctx); w.User != "bob" || w.Org != "acme" {
					t.Fatalf("welcome %s, want user bob org acme", w.Raw)
				}
				// The token command reads the same env var.
				cli := mintCLI(t, []string{"ORGSTREAM_JWT_SECRET=" + secret},
					"--org", "acme", "--sub", "carol", "--data-dir", t.TempDir())
				c2 := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, cli, nil), nil)
				if w := c2.ExpectWelcome(ctx); w.User != "carol" {
					t.Fatalf("welcome %s, want user carol", w.Raw)
				}
				pub := testkit.Token(t, []byte(secret), "acme", "backend", time.Hour, true)
				if st, b := testkit.Publish(t, d.Base, "acme", pub, testkit.EventBody("t", `{}`, "")); st != http.StatusCreated {
					t.Fatalf("publish with the secret: %d %s, want 201", st, b)
				}

				// Another secret, and the data dir's file if there is one
				// (the flag/env must win over it), are refused.
				others := [][]byte{[]byte("another-secret-0123456789-0123456789")}
				if b, err := os.ReadFile(filepath.Join(d.DataDir, "jwt-secret")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
					others = append(others, []byte(strings.TrimSpace(string(b))))
				}
				for _, other := range others {
					bad := testkit.Token(t, other, "acme", "bob", time.Hour, false)
					_, resp, err := testkit.DialErr(ctx, testkit.StreamURL(d.Base, bad, nil), nil)
					if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("stream with a token of another secret: response %v, err %v; want 401", statusOf(resp), err)
					}
					badPub := testkit.Token(t, other, "acme", "backend", time.Hour, true)
					if st, b := testkit.Publish(t, d.Base, "acme", badPub, testkit.EventBody("t", `{}`, "")); st != http.StatusUnauthorized {
						t.Fatalf("publish with a token of another secret: %d %s, want 401", st, b)
					}
				}
			})
		}
	})
}

// mintCLI runs `orgstream token` with args and returns the token it printed
// alone on one line.
func mintCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, code := runCLI(t, env, append([]string{"token"}, args...)...)
	if code != 0 {
		t.Fatalf("orgstream token: exit %d, stderr %q", code, stderr)
	}
	tok := strings.TrimSuffix(stdout, "\n")
	if tok == "" || strings.ContainsAny(tok, "\n ") || strings.Count(tok, ".") != 2 {
		t.Fatalf("orgstream token printed %q, want one JWT on one line", stdout)
	}
	return tok
}

// statusOf is resp's status code, 0 without a response.
func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
