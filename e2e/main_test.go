package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// binPath is the orgstream binary built by TestMain.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orgstream-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// build compiles ./cmd/orgstream of this module into dir/orgstream.
func build(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("not inside a module (GOMOD=%q)", gomod)
	}
	binPath = filepath.Join(dir, "orgstream")
	args := []string{"build", "-o", binPath}
	if os.Getenv("ORGSTREAM_E2E_RACE") != "" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/orgstream")
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Dir(gomod)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, buf.String())
	}
	return nil
}

// closeIdle drops the keep-alive connections of the default HTTP client,
// whose reader goroutines would otherwise outlive a test's daemon briefly.
func closeIdle(t testing.TB) {
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
}
