package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secretBytes is the entropy of a generated secret.
const secretBytes = 32

// LoadOrCreateSecret reads the secret at path, creating it (32 random bytes,
// hex, mode 0600, parent dirs 0700) when absent.
//
// The secret is the file's content with surrounding whitespace trimmed; an
// empty file is ErrEmptySecret and one under MinSecretLen bytes
// ErrShortSecret, neither replaced. Creation is atomic and
// exclusive: the secret is written to a temporary file in the same directory
// and hard-linked to path, which fails if path exists, so processes starting
// together agree on one secret and none sees a partial file. On a file system
// without hard links it falls back to an O_EXCL create, where a racing reader
// may see the file empty.
func LoadOrCreateSecret(path string) ([]byte, error) {
	s, err := readSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret dir: %w", err)
	}
	var raw [secretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("auth: generate secret: %w", err)
	}
	secret := hex.AppendEncode(nil, raw[:])
	content := append(bytes.Clone(secret), '\n')

	err = createLinked(dir, path, content)
	if errors.Is(err, fs.ErrExist) {
		return readSecret(path) // another process created it first
	}
	if err != nil {
		return nil, err
	}
	return secret, nil
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s has no secret", ErrEmptySecret, path)
	}
	if err := checkSecret(b); err != nil {
		return nil, fmt.Errorf("%w: in %s", err, path)
	}
	return b, nil
}

// createLinked writes content to a new file at path, all or nothing; it
// fails with fs.ErrExist if path exists.
func createLinked(dir, path string, content []byte) error {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // mode 0600
	if err != nil {
		return fmt.Errorf("auth: create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = writeSync(tmp, content)
	if err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		return createExcl(path, content)
	}
	return syncDir(dir)
}

// createExcl is the fallback of createLinked without hard links.
func createExcl(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("auth: create secret: %w", err)
	}
	err = writeSync(f, content)
	if err != nil {
		_ = os.Remove(path)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeSync writes content, forces it to disk and closes f.
func writeSync(f *os.File, content []byte) error {
	err := f.Chmod(0o600) // whatever the umask
	if err == nil {
		_, err = f.Write(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("auth: write secret: %w", err)
	}
	return nil
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("auth: sync secret dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("auth: sync secret dir: %w", err)
	}
	return nil
}
