package bench

import (
	"os"
	"testing"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestMain fails the run if a goroutine outlives the tests (see
// testkit.RunAndCheckLeaks). Re-executed with AnchorServerCommand (the
// anchor's default server command is this executable), the test binary is
// the anchor's raw server, as orgstream-bench is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == AnchorServerCommand {
		os.Exit(ServeAnchor(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	testkit.RunAndCheckLeaks(m)
}
