package testkit

import (
	"fmt"
	"testing"
)

// CheckRange reports whether seqs is exactly from, from+1, …, to (every seq
// once, in order; empty when from > to), describing the first difference.
func CheckRange(seqs []uint64, from, to uint64) error {
	want := uint64(0)
	if to >= from {
		want = to - from + 1
	}
	for i, s := range seqs {
		exp := from + uint64(i)
		if uint64(i) >= want {
			return fmt.Errorf("seqs %d..%d: extra seq %d at index %d (%d seqs)", from, to, s, i, len(seqs))
		}
		if s != exp {
			kind := "hole"
			if s < exp {
				kind = "duplicate or reorder"
			}
			return fmt.Errorf("seqs %d..%d: %s at index %d: got %d, want %d", from, to, kind, i, s, exp)
		}
	}
	if uint64(len(seqs)) != want {
		return fmt.Errorf("seqs %d..%d: got %d seqs, want %d (last %d)", from, to, len(seqs), want, last(seqs))
	}
	return nil
}

// AssertRange fails t unless seqs is exactly from..to, each once, in order.
func AssertRange(t testing.TB, seqs []uint64, from, to uint64) {
	t.Helper()
	if err := CheckRange(seqs, from, to); err != nil {
		t.Fatal(err)
	}
}

// AssertAll fails t unless seqs is exactly 1..n, each once, in order.
func AssertAll(t testing.TB, seqs []uint64, n uint64) {
	t.Helper()
	AssertRange(t, seqs, 1, n)
}

func last(s []uint64) uint64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}
