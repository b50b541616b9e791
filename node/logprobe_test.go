package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/metrics"
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
		{name: "healthy", steps: []probeStep{{nil, nil, "n1"}, {nil, nil, "n2"}}},
		{name: "no leader at once", steps: []probeStep{{noLeader, persistence.ErrNoLeader, ""}}},
		{name: "one timeout is not an outage", steps: []probeStep{{timeout, nil, ""}, {nil, nil, "n1"}, {timeout, nil, ""}}},
		{name: "timeouts in a row", steps: []probeStep{{timeout, nil, ""}, {timeout, persistence.ErrUnavailable, ""}}},
		{name: "recovers", steps: []probeStep{
			{noLeader, persistence.ErrNoLeader, ""}, {timeout, persistence.ErrUnavailable, ""}, {nil, nil, "n3"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := make(chan struct{})
			answers := make(chan probeStep)
			done := make(chan struct{})
			// The check ignores the probe's own deadline: it waits for the
			// test's answer however slow the machine is.
			check := func(context.Context) ([]persistence.StreamStatus, error) {
				select {
				case asked <- struct{}{}:
				case <-done:
					return nil, errors.New("test over")
				}
				select {
				case st := <-answers:
					return st.streams(), st.answer
				case <-done:
					return nil, errors.New("test over")
				}
			}
			m := metrics.New()
			p := startLogProbe(check, 5*time.Millisecond, m, zap.NewNop())
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
					expectErr(t, p, m, i, tt.steps[i-1])
				}
				answers <- st
			}
			waitAsked()
			expectErr(t, p, m, len(tt.steps), tt.steps[len(tt.steps)-1])
		})
	}
}

func expectErr(t *testing.T, p *logProbe, m *metrics.Metrics, n int, st probeStep) {
	t.Helper()
	err := p.Err()
	if (st.want == nil) != (err == nil) || st.want != nil && !errors.Is(err, st.want) {
		t.Fatalf("after answer %d (%v): Err() = %v, want %v", n, st.answer, err, st.want)
	}
	// Publishes are refused only with a leaderless stream, and only to its
	// orgs.
	wantRefused := errors.Is(st.want, persistence.ErrNoLeader) && st.leader == ""
	if got := p.refuses(persistence.PartitionStream(0)); got != wantRefused {
		t.Fatalf("after answer %d (%v): refuses = %v, want %v", n, st.answer, got, wantRefused)
	}
	// Every answer's leaders reach the metrics, healthy or not.
	got := m.LogStreams()
	if len(got) != 2 || got[0].Name != persistence.PartitionStream(0) || got[0].Leader != st.leader ||
		got[1].Name != persistence.HeadsStreamName || got[1].Leader != st.leader {
		t.Fatalf("after answer %d: metrics log streams %+v, want both led by %q", n, got, st.leader)
	}
}

// probeStep is one answer of the probe's check (its error, and the leader
// it names for both streams) and Err once it is taken in.
type probeStep struct {
	answer error
	want   error
	leader string
}

func (st probeStep) streams() []persistence.StreamStatus {
	return []persistence.StreamStatus{
		{Name: persistence.PartitionStream(0), Leader: st.leader},
		{Name: persistence.HeadsStreamName, Leader: st.leader},
	}
}

// waitFirst returns only once the first probe is taken in: its leaders
// are in the metrics by then.
func TestLogProbeWaitFirst(t *testing.T) {
	release := make(chan struct{})
	check := func(context.Context) ([]persistence.StreamStatus, error) {
		<-release
		return probeStep{leader: "n1"}.streams(), nil
	}
	m := metrics.New()
	p := startLogProbe(check, time.Hour, m, zap.NewNop())
	defer p.stop()
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		p.waitFirst(context.Background())
	}()
	select {
	case <-waited:
		t.Fatal("waitFirst returned before the first probe answered")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-waited
	if got := m.LogStreams(); len(got) != 2 || got[0].Leader != "n1" {
		t.Fatalf("after waitFirst: %+v, want the first probe's leaders", got)
	}

	// A context that ends stops the wait without a probe.
	stuck := startLogProbe(func(ctx context.Context) ([]persistence.StreamStatus, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, time.Hour, metrics.New(), zap.NewNop())
	defer stuck.stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stuck.waitFirst(ctx)
}

// A partition without a leader refuses the publishes to its orgs only.
func TestLogProbeRefusesThePartition(t *testing.T) {
	streams := []persistence.StreamStatus{
		{Name: persistence.PartitionStream(0), Leader: "n1"},
		{Name: persistence.PartitionStream(1), Leader: ""},
		{Name: persistence.HeadsStreamName, Leader: "n2"},
	}
	noLeader := fmt.Errorf("%w (%s)", persistence.ErrNoLeader, persistence.PartitionStream(1))
	p := startLogProbe(func(context.Context) ([]persistence.StreamStatus, error) { return streams, noLeader },
		time.Hour, metrics.New(), zap.NewNop())
	defer p.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.waitFirst(ctx)
	for _, tc := range []struct {
		stream string
		want   bool
	}{{persistence.PartitionStream(0), false}, {persistence.PartitionStream(1), true}, {persistence.PartitionStream(2), true}} {
		if got := p.refuses(tc.stream); got != tc.want {
			t.Errorf("refuses(%s) = %v, want %v", tc.stream, got, tc.want)
		}
	}
}
