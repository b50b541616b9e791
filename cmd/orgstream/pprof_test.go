package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// `serve --pprof-listen` with anything but a loopback address exits 2 with
// one line naming the flag, before anything starts (no data dir is made);
// the environment variable is checked the same way.
func TestPprofListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{
		"0.0.0.0:6060",
		"[::]:6060",
		":6060",
		"192.168.1.10:6060",
		"10.0.0.1:0",
		"[fe80::1]:6060",
		"example.com:6060",
		"localhost.example.com:6060",
	} {
		t.Run(addr, func(t *testing.T) {
			dir := t.TempDir() + "/data"
			for _, how := range []struct {
				name string
				args []string
				env  map[string]string
				want string
			}{
				{"flag", []string{"serve", "--data-dir", dir, "--pprof-listen", addr}, nil, "for --pprof-listen"},
				{"env", []string{"serve", "--data-dir", dir}, map[string]string{"ORGSTREAM_PPROF_LISTEN": addr}, "in ORGSTREAM_PPROF_LISTEN"},
			} {
				code, stdout, stderr := runCLI(t, how.env, how.args...)
				if code != 2 {
					t.Fatalf("%s: exit %d, want 2\nstdout: %s\nstderr: %s", how.name, code, stdout, stderr)
				}
				if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, how.want) || !strings.Contains(stderr, "loopback") {
					t.Errorf("%s: stderr %q, want one line naming %q and the loopback rule", how.name, stderr, how.want)
				}
				if stdout != "" {
					t.Errorf("%s: stdout %q, want nothing (the node must not start)", how.name, stdout)
				}
				if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: data dir after the refusal: %v, want none made", how.name, err)
				}
			}
		})
	}
}

func TestCheckPprofListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060":       true,
		"127.0.0.1:0":          true,
		"127.8.9.10:6060":      true,
		"[::1]:6060":           true,
		"localhost:6060":       true,
		"LocalHost:6060":       true,
		"[::ffff:127.0.0.1]:1": true,
		"0.0.0.0:6060":         false,
		"[::]:6060":            false,
		":6060":                false,
		"128.0.0.1:6060":       false,
		"192.168.1.10:6060":    false,
		"localhost":            false,
		"127.0.0.1:99999":      false,
	} {
		if err := checkPprofListen(addr); (err == nil) != ok {
			t.Errorf("checkPprofListen(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}
