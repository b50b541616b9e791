package testkit

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// RunAndCheckLeaks runs the package's tests and fails the run if any
// goroutine outlives them. Nothing is ignored; the check is only patient:
// protoactor's dead-letter throttle starts a goroutine that ends by itself
// one DeadLetterThrottleInterval (1s) after a dead letter, which a node's
// shutdown may produce, so leaks are looked for until 5s after the run
// (goleak.VerifyTestMain alone retries for about half a second). Call it as
// the whole of TestMain.
func RunAndCheckLeaks(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if err = goleak.Find(); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
