package soak

import (
	"testing"
)

func TestLongestGap(t *testing.T) {
	tests := []struct {
		name     string
		times    []float64
		from, to float64
		want     float64
	}{
		{"acks all along", []float64{0, 1, 2, 3, 4, 5}, 1, 5, 1},
		{"the first ack comes late", []float64{0, 1, 7, 8}, 1.5, 8, 5.5},
		{"a hole in the middle", []float64{10, 11, 12, 20, 21}, 10, 21, 8},
		{"a hole past the window is cut at its end", []float64{1, 2, 30}, 1, 3, 1},
		{"a hole across the window's end", []float64{1, 2, 30}, 1, 10, 8},
		{"no ack until the end", []float64{1}, 2, 9, 7},
		{"acks before the window only", []float64{1, 2}, 5, 6, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := longestGap(tt.times, tt.from, tt.to); got != tt.want {
				t.Errorf("longestGap = %v, want %v", got, tt.want)
			}
		})
	}
}
