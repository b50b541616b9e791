package soak

import (
	"testing"

	"github.com/orgstream/orgstream/internal/testkit"
)

// TestMain fails the run if a goroutine outlives the tests (see
// testkit.RunAndCheckLeaks).
func TestMain(m *testing.M) { testkit.RunAndCheckLeaks(m) }
