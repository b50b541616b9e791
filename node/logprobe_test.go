package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/persistence"
)

// The probe reports a stream without a leader at once, a store that does
// not answer only after probeFailuresNeeded probes in a row, and clears
// on the first good answer. The check stands in for JetStreamLog.Writable
// (covered against real servers in persistence and e2e); it is driven one
// answer at a time and Err is checked after each: the probe asking again
// means it has taken the previous answer in.
func TestLogProbe(t *testing.T) {
	timeout := fmt.Errorf("%w: stream info: timeout", persistence.ErrUnavailable)
	noLeader := fmt.Errorf("%w (ORGSTREAM)", persistence.ErrNoLeader)
	tests := []struct {
		name  string
		steps []probeStep
	}{
		{name: "healthy", steps: []probeStep{{nil, nil}, {nil, nil}}},
		{name: "no leader at once", steps: []probeStep{{noLeader, persistence.ErrNoLeader}}},
		{name: "one timeout is not an outage", steps: []probeStep{{timeout, nil}, {nil, nil}, {timeout, nil}}},
		{name: "timeouts in a row", steps: []probeStep{{timeout, nil}, {timeout, persistence.ErrUnavailable}}},
		{name: "recovers", steps: []probeStep{
			{noLeader, persistence.ErrNoLeader}, {timeout, persistence.ErrUnavailable}, {nil, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := make(chan struct{})
			answers := make(chan error)
			done := make(chan struct{})
			// The check ignores the probe's own deadline: it waits for the
			// test's answer however slow the machine is.
			check := func(context.Context) error {
				select {
				case asked <- struct{}{}:
				case <-done:
					return errors.New("test over")
				}
				select {
				case err := <-answers:
					return err
				case <-done:
					return errors.New("test over")
				}
			}
			p := startLogProbe(check, 5*time.Millisecond, zap.NewNop())
			defer p.stop()
			defer close(done) // runs first: frees a check in progress
			waitAsked := func() {
				t.Helper()
				select {
				case <-asked:
				case <-time.After(30 * time.Second):
					t.Fatal("the probe did not ask")
				}
			}
			for i, st := range tt.steps {
				waitAsked() // so the previous answer has been taken in
				if i > 0 {
					expectErr(t, p, i, tt.steps[i-1])
				}
				answers <- st.answer
			}
			waitAsked()
			expectErr(t, p, len(tt.steps), tt.steps[len(tt.steps)-1])
		})
	}
}

func expectErr(t *testing.T, p *logProbe, n int, st probeStep) {
	t.Helper()
	err := p.Err()
	if (st.want == nil) != (err == nil) || st.want != nil && !errors.Is(err, st.want) {
		t.Fatalf("after answer %d (%v): Err() = %v, want %v", n, st.answer, err, st.want)
	}
}

// probeStep is one answer of the probe's check and Err once it is taken in.
type probeStep struct {
	answer error
	want   error
}
