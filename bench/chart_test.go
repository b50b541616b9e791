package bench

import (
	"strings"
	"testing"
)

func TestTicks125(t *testing.T) {
	cases := []struct {
		lo, hi float64
		labels string
	}{
		{0.3, 40, "0.5 1 2 5 10 20"},
		{1, 1000, "1 2 5 10 20 50 100 200 500 1000"},
		{3, 4, ""},
		{0, 10, ""},
	}
	for _, tc := range cases {
		var got []string
		for _, tk := range (ticks125{}).Ticks(tc.lo, tc.hi) {
			if tk.Value < tc.lo || tk.Value > tc.hi {
				t.Errorf("[%v, %v]: tick %v outside", tc.lo, tc.hi, tk.Value)
			}
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if strings.Join(got, " ") != tc.labels {
			t.Errorf("[%v, %v]: labels %q, want %q", tc.lo, tc.hi, strings.Join(got, " "), tc.labels)
		}
	}
}
