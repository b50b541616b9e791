package presence

import (
	"testing"

	"github.com/orgstream/orgstream/internal/testkit"
)

func TestMain(m *testing.M) { testkit.RunAndCheckLeaks(m) }
