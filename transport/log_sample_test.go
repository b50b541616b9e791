package transport

import (
	"testing"
	"time"
)

// The sampler logs the first refusalLogFirst refusals of a code per tick,
// then every refusalLogThereafter-th, reports how many went to Debug only in
// between, starts afresh each tick, and keeps codes apart.
func TestRefusalSampler(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	type step struct {
		at         time.Duration // since t0
		code       string
		n          int    // refusals sent at once
		logged     int    // how many of them are logged at their level
		suppressed uint64 // summed over the logged ones
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "the first of a tick are logged", steps: []step{
			{0, "invalid_token", refusalLogFirst, refusalLogFirst, 0},
		}},
		{name: "then one in thereafter, with the count between", steps: []step{
			{0, "invalid_token", refusalLogFirst, refusalLogFirst, 0},
			{0, "invalid_token", refusalLogThereafter - 1, 0, 0},
			{0, "invalid_token", 1, 1, refusalLogThereafter - 1},
			{0, "invalid_token", 2*refusalLogThereafter - 1, 1, refusalLogThereafter - 1},
		}},
		{name: "a new tick logs again and reports the rest", steps: []step{
			{0, "invalid_token", refusalLogFirst + 5, refusalLogFirst, 0},
			{refusalLogTick - time.Nanosecond, "invalid_token", 3, 0, 0},
			{refusalLogTick, "invalid_token", refusalLogFirst, refusalLogFirst, 8},
		}},
		{name: "codes are counted apart", steps: []step{
			{0, "invalid_token", 5000, refusalLogFirst + 4, 4 * (refusalLogThereafter - 1)},
			{0, "forbidden", refusalLogFirst, refusalLogFirst, 0},
			{0, "origin_not_allowed", 1, 1, 0},
		}},
		{name: "a clock going back starts a tick", steps: []step{
			{refusalLogTick, "missing_token", refusalLogFirst + 1, refusalLogFirst, 0},
			{0, "missing_token", 1, 1, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			s := newRefusalSampler(func() time.Time { return now })
			for i, st := range tt.steps {
				now = t0.Add(st.at)
				var logged int
				var suppressed uint64
				for range st.n {
					if ok, sup := s.sample(st.code); ok {
						logged++
						suppressed += sup
					} else if sup != 0 {
						t.Fatalf("step %d: a refusal not logged reports %d suppressed", i, sup)
					}
				}
				if logged != st.logged || suppressed != st.suppressed {
					t.Fatalf("step %d (%d × %s at %v): %d logged, %d suppressed; want %d, %d",
						i, st.n, st.code, st.at, logged, suppressed, st.logged, st.suppressed)
				}
			}
		})
	}
}
