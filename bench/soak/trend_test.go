package soak

import (
	"math"
	"testing"
)

// series is n samples over 100 s with f(t) MiB.
func series(n int, f func(t float64) float64) []Sample {
	out := make([]Sample, n)
	for i := range out {
		t := 100 * float64(i) / float64(n-1)
		out[i] = Sample{T: t, MiB: f(t)}
	}
	return out
}

func TestTrendOf(t *testing.T) {
	tests := []struct {
		name   string
		s      []Sample
		tested bool
		ok     bool
	}{
		{"flat", series(100, func(float64) float64 { return 100 }), true, true},
		{"a warm-up climb, then flat", series(100, func(t float64) float64 { return 40 + min(t, 20)*5 }), true, true},
		{"noisy flat", series(100, func(t float64) float64 { return 100 + 20*math.Sin(t) }), true, true},
		{"a restart drops it", series(100, func(t float64) float64 {
			if t > 70 {
				return 30
			}
			return 100
		}), true, true},
		{"a steady climb", series(100, func(t float64) float64 { return 100 + 2*t }), true, false},
		{"a late step up", series(100, func(t float64) float64 {
			if t > 80 {
				return 250
			}
			return 100
		}), true, false},
		{"too few samples", series(8, func(t float64) float64 { return 100 + 10*t }), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := TrendOf("b1", tt.s, 100)
			if tr.Tested != tt.tested || tr.OK != tt.ok {
				t.Errorf("tested %v ok %v, want %v %v: %s", tr.Tested, tr.OK, tt.tested, tt.ok, tr)
			}
		})
	}
	if s := slope(series(50, func(t float64) float64 { return 3*t + 7 })); math.Abs(s-3) > 1e-9 {
		t.Errorf("slope %v, want 3", s)
	}
}
