package auth

import (
	"testing"

	"go.uber.org/goleak"
)

// The JWKS fetcher is the package's only goroutine; Close must end it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
