package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSecretCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "jwt-secret")

	s1, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(string(s1))
	if err != nil || len(raw) != 32 {
		t.Fatalf(
			"secret %q is not 32 hex-encoded bytes (%v)",
			s1, err,
		)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf(
			"file mode %v, want 0600",
			fi.Mode().Perm(),
		)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Fatalf(
			"dir mode %v, want 0700",
			di.Mode().Perm(),
		)
	}

	s2, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) {
		t.Fatalf(
			"second call gave %q, first %q",
			s2, s1,
		)
	}
	onlyFile(t, dir, "jwt-secret")
}

func TestLoadOrCreateSecretExisting(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
		err     error
	}{
		{
			name:    "trimmed",
			content: "  s3cret-from-operator-of-32-bytes \n",
			want:    "s3cret-from-operator-of-32-bytes",
		},
		{
			name:    "inner space kept",
			content: "a secret of thirty-two bytes, a b\n",
			want:    "a secret of thirty-two bytes, a b",
		},
		{
			name:    "31 bytes",
			content: "a secret of thirty-one bytes...\n",
			err:     ErrShortSecret,
		},
		{
			name:    "short once trimmed",
			content: "   short   " + strings.Repeat(" ", 40) + "\n",
			err:     ErrShortSecret,
		},
		{
			name:    "empty",
			content: "",
			err:     ErrEmptySecret,
		},
		{
			name:    "whitespace only",
			content: " \n\t\n",
			err:     ErrEmptySecret,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jwt-secret")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateSecret(path)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf(
						"err = %v, want %v",
						err, tc.err,
					)
				}
				b, _ := os.ReadFile(path)
				if string(b) != tc.content {
					t.Fatal("a bad secret file was replaced")
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf(
					"got %q, %v; want %q",
					got, err, tc.want,
				)
			}
		})
	}
}

func TestLoadOrCreateSecretUnreadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateSecret(dir); err == nil { // a directory
		t.Fatal("no error for a directory")
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(filepath.Join(file, "jwt-secret")); err == nil { // parent is a file
		t.Fatal("no error under a regular file")
	}
}

// Processes starting together must agree on one secret.
func TestLoadOrCreateSecretRace(t *testing.T) {
	for round := range 20 {
		dir := filepath.Join(t.TempDir(), "d")
		path := filepath.Join(dir, "jwt-secret")
		const n = 8
		secrets := make([][]byte, n)
		errs := make([]error, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Go(func() {
				start.Wait()
				secrets[i], errs[i] = LoadOrCreateSecret(path)
			})
		}
		start.Done()
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf(
					"round %d, caller %d: %v",
					round, i, errs[i],
				)
			}
			if !bytes.Equal(secrets[i], secrets[0]) {
				t.Fatalf(
					"round %d: callers got different secrets %q and %q",
					round, secrets[0], secrets[i],
				)
			}
		}
		onFile, err := os.ReadFile(path)
		if err != nil || string(bytes.TrimSpace(onFile)) != string(secrets[0]) {
			t.Fatalf(
				"round %d: file holds %q, callers %q",
				round, onFile, secrets[0],
			)
		}
		onlyFile(t, dir, "jwt-secret")
	}
}

// onlyFile checks that no temporary file was left beside the secret.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != name {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf(
			"dir holds %v, want only %s",
			names, name,
		)
	}
}
