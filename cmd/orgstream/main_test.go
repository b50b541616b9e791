package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe to read while serve writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCLI runs one command line with the given environment and returns the
// exit status and what was written.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, env: envOf(env), prog: "./bin/orgstream"}
	code = c.run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     string // substring expected on stdout
		stderr     string // substring expected on stderr
		oneLineErr bool   // stderr must be exactly one line
	}{
		{name: "no command", args: nil, code: 2, stderr: "Usage:"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "Commands:"},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: "serve"},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: "ORGSTREAM_JWT_SECRET"},
		{name: "help serve", args: []string{"help", "serve"}, code: 0, stdout: "--max-conns-per-user N"},
		{name: "help unknown", args: []string{"help", "nope"}, code: 2, stderr: `unknown command "nope"`, oneLineErr: true},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `orgstream: unknown command "frobnicate" (see orgstream --help)`, oneLineErr: true},
		{name: "unknown top-level flag", args: []string{"--foo"}, code: 2, stderr: "unknown flag --foo", oneLineErr: true},
		{name: "serve --help", args: []string{"serve", "--help"}, code: 0, stdout: "(default 127.0.0.1:8080; env ORGSTREAM_LISTEN)"},
		{name: "serve -h", args: []string{"serve", "-h"}, code: 0, stdout: "ORGSTREAM_NATS_LISTEN"},
		{name: "token --help", args: []string{"token", "--help"}, code: 0, stdout: "(default 1h; env ORGSTREAM_TTL)"},
		{name: "publish --help", args: []string{"publish", "--help"}, code: 0, stdout: "(default http://127.0.0.1:8080; env ORGSTREAM_URL)"},
		{name: "version --help", args: []string{"version", "--help"}, code: 0, stdout: "Usage: orgstream version"},
		{name: "serve unknown flag", args: []string{"serve", "--foo"}, code: 2,
			stderr: "orgstream serve: unknown flag --foo (see orgstream serve --help)", oneLineErr: true},
		{name: "serve unknown flag with value", args: []string{"serve", "--foo=bar"}, code: 2,
			stderr: "orgstream serve: unknown flag --foo (see orgstream serve --help)", oneLineErr: true},
		{name: "serve unknown single-dash flag", args: []string{"serve", "-foo"}, code: 2,
			stderr: "unknown flag --foo", oneLineErr: true},
		{name: "token unknown flag", args: []string{"token", "--nope"}, code: 2,
			stderr: "orgstream token: unknown flag --nope (see orgstream token --help)", oneLineErr: true},
		{name: "publish unknown flag", args: []string{"publish", "--nope"}, code: 2,
			stderr: "orgstream publish: unknown flag --nope", oneLineErr: true},
		{name: "version unknown flag", args: []string{"version", "--nope"}, code: 2, stderr: "orgstream version: unknown flag --nope", oneLineErr: true},
		{name: "serve stray argument", args: []string{"serve", "extra"}, code: 2, stderr: `unexpected argument "extra"`, oneLineErr: true},
		{name: "serve missing value", args: []string{"serve", "--listen"}, code: 2, stderr: "flag --listen needs a value", oneLineErr: true},
		{name: "serve bad duration", args: []string{"serve", "--retention", "soon"}, code: 2, stderr: `invalid value "soon" for --retention`, oneLineErr: true},
		{name: "serve negative duration", args: []string{"serve", "--drain-period=-1s"}, code: 2, stderr: "must be positive", oneLineErr: true},
		{name: "serve bad listen", args: []string{"serve", "--listen", "8080"}, code: 2, stderr: "--listen", oneLineErr: true},
		{name: "serve bad metrics listen", args: []string{"serve", "--metrics-listen", "9100"}, code: 2, stderr: "--metrics-listen", oneLineErr: true},
		{name: "serve bad replicas", args: []string{"serve", "--replicas", "0"}, code: 2, stderr: "must be at least 1", oneLineErr: true},
		{name: "serve bad partitions", args: []string{"serve", "--partitions", "65"}, code: 2, stderr: "must be in 1..64", oneLineErr: true},
		{name: "serve bad partitions env", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_PARTITIONS": "0"}, code: 2,
			stderr: "ORGSTREAM_PARTITIONS", oneLineErr: true},
		{name: "serve bad log level", args: []string{"serve", "--log-level", "loud"}, code: 2, stderr: "--log-level", oneLineErr: true},
		{name: "serve bad env", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_RETENTION": "forever"}, code: 2,
			stderr: `orgstream serve: invalid value "forever" in ORGSTREAM_RETENTION`, oneLineErr: true},
		{name: "serve bad env int", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_MAX_CONNS_PER_USER": "-3"}, code: 2,
			stderr: "ORGSTREAM_MAX_CONNS_PER_USER", oneLineErr: true},
		{name: "serve bad env bool", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_SYNC_ALWAYS": "maybe"}, code: 2,
			stderr: "ORGSTREAM_SYNC_ALWAYS", oneLineErr: true},
		{name: "serve queue below the largest publish", args: []string{"serve", "--max-queue-bytes", "1MiB"}, code: 2,
			stderr: "orgstream serve: --max-queue-bytes 1MiB is below 1304576 bytes, the frames of the largest publish", oneLineErr: true},
		{name: "serve queue below the largest publish from env", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_MAX_QUEUE_BYTES": "1304575"}, code: 2,
			stderr: "--max-queue-bytes 1304575 is below 1304576 bytes", oneLineErr: true},
		{name: "serve bad env bytes", args: []string{"serve"}, env: map[string]string{"ORGSTREAM_MAX_QUEUE_BYTES": "lots"}, code: 2,
			stderr: "ORGSTREAM_MAX_QUEUE_BYTES", oneLineErr: true},
		{name: "env of flags the command lacks is ignored", args: []string{"version"}, env: map[string]string{"ORGSTREAM_RETENTION": "forever"}, code: 0,
			stdout: "orgstream dev ("},
		{name: "version", args: []string{"version"}, code: 0, stdout: "orgstream dev (go"},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: "orgstream dev (go"},
		{name: "version stray argument", args: []string{"version", "x"}, code: 2, stderr: "unexpected argument", oneLineErr: true},
		{name: "token missing org", args: []string{"token", "--sub", "alice", "--jwt-secret", flagSecret}, code: 2, stderr: "--org is required", oneLineErr: true},
		{name: "token missing sub", args: []string{"token", "--org", "*", "--jwt-secret", flagSecret}, code: 2, stderr: "--sub is required", oneLineErr: true},
		{name: "token zero ttl", args: []string{"token", "--ttl", "0s"}, code: 2, stderr: "--ttl", oneLineErr: true},
		{name: "publish missing org", args: []string{"publish", "--data", "{}"}, code: 2, stderr: "--org is required", oneLineErr: true},
		{name: "publish bad url", args: []string{"publish", "--url", "ftp://x"}, code: 2, stderr: "--url", oneLineErr: true},
		{name: "serve cluster without secret", args: []string{"serve", "--cluster-listen", "127.0.0.1:6222", "--routes", "nats://127.0.0.1:6223"}, code: 2,
			stderr: "--cluster-listen needs --cluster-secret (or ORGSTREAM_CLUSTER_SECRET)", oneLineErr: true},
		{name: "serve cluster-advertise without cluster-listen", args: []string{"serve", "--cluster-advertise", "10.0.0.5:6222"}, code: 2,
			stderr: "--cluster-advertise needs --cluster-listen", oneLineErr: true},
		{name: "serve cluster-advertise without port", args: []string{"serve", "--cluster-advertise", "10.0.0.5", "--cluster-listen", "127.0.0.1:6222"}, code: 2,
			stderr: "--cluster-advertise", oneLineErr: true},
		{name: "serve cluster-advertise port 0", args: []string{"serve", "--cluster-advertise", "10.0.0.5:0", "--cluster-listen", "127.0.0.1:6222"}, code: 2,
			stderr: "port 0 cannot be dialed", oneLineErr: true},
		{name: "serve nats-creds without nats-url", args: []string{"serve", "--nats-creds", "x.creds"}, code: 2, stderr: "--nats-creds is for --nats-url", oneLineErr: true},
		{name: "serve publisher password with nats-url", args: []string{"serve", "--nats-url", "nats://127.0.0.1:4222"},
			env: map[string]string{"ORGSTREAM_NATS_PUBLISHER_PASSWORD": "p"}, code: 2, stderr: "--nats-publisher-password", oneLineErr: true},
		{name: "serve tls cert without key", args: []string{"serve", "--nats-tls-cert", "c.pem"}, code: 2, stderr: "go together", oneLineErr: true},
		{name: "serve tls ca alone", args: []string{"serve", "--nats-tls-ca", "ca.pem"}, code: 2, stderr: "--nats-tls-ca needs", oneLineErr: true},
		{name: "nats-creds from env", args: []string{"nats-creds"}, env: map[string]string{"ORGSTREAM_NATS_PUBLISHER_PASSWORD": "from-env"}, code: 0,
			stdout: "publisher:from-env\n"},
		{name: "nats-creds --help", args: []string{"nats-creds", "--help"}, code: 0, stdout: "orgstream.publish.<org>"},
		{name: "nats-creds stray argument", args: []string{"nats-creds", "x"}, code: 2, stderr: "unexpected argument", oneLineErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			if tt.oneLineErr && strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			if tt.code == 0 && stderr != "" {
				t.Errorf("stderr not empty on success: %q", stderr)
			}
		})
	}
}

// Every flag's help names its environment variable.
func TestHelpNamesEveryEnvVar(t *testing.T) {
	for _, cmd := range commands() {
		var b bytes.Buffer
		cmd.help(&b)
		var fl *flagSet
		switch cmd.name {
		case "serve":
			fl = newServeFlags(&serveOptions{})
		case "token":
			fl = newTokenFlags(&tokenOptions{})
		case "publish":
			fl = newPublishFlags(&publishOptions{})
		default:
			continue
		}
		for _, s := range fl.specs {
			if !strings.Contains(b.String(), envName(s.name)) {
				t.Errorf("%s --help does not name %s", cmd.name, envName(s.name))
			}
		}
	}
}
