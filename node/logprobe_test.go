package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/persistence"
)

// The probe reports a stream without a leader at once, a store that does
// not answer only after probeFailuresNeeded probes in a row, and clears
// on the first good answer. The check stands in for JetStreamLog.Writable
// (covered against real servers in persistence and e2e).
func TestLogProbe(t *testing.T) {
	timeout := fmt.Errorf("%w: stream info: timeout", persistence.ErrUnavailable)
	noLeader := fmt.Errorf("%w (ORGSTREAM)", persistence.ErrNoLeader)
	tests := []struct {
		name    string
		answers []error // the probe's answers, in order; the last repeats
		want    error   // Err once they are all given
	}{
		{name: "healthy", answers: []error{nil}, want: nil},
		{name: "no leader at once", answers: []error{noLeader}, want: persistence.ErrNoLeader},
		{name: "one timeout is not an outage", answers: []error{timeout, nil}, want: nil},
		{name: "timeouts in a row", answers: []error{timeout, timeout}, want: persistence.ErrUnavailable},
		{name: "recovers", answers: []error{noLeader, timeout, nil}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			check := func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				calls++
				return tt.answers[min(calls, len(tt.answers))-1]
			}
			p := startLogProbe(check, 4*time.Millisecond, zap.NewNop())
			defer p.stop()
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				mu.Lock()
				n := calls
				mu.Unlock()
				if n > len(tt.answers)+1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d probes in 5s", n)
				}
			}
			if err := p.Err(); (tt.want == nil) != (err == nil) || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Err() = %v, want %v", err, tt.want)
			}
		})
	}
}
