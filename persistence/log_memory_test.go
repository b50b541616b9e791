package persistence

import (
	"slices"
	"testing"
	"time"
)

// Memory-only: expiry follows the injected clock event by event.
func TestMemoryRetentionFollowsClock(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	l := NewMemory(MemoryConfig{Retention: time.Minute, Now: clock.Now})
	defer l.Close()
	ctx := ctxT(t)
	for range 3 {
		mustAppend(t, l, "acme", drafts(1, "a")...)
		clock.Add(20 * time.Second)
	}
	// Appended at 0s, 20s, 40s; now 60s: the first is exactly Retention old.
	for _, tc := range []struct {
		advance     time.Duration
		first, head uint64
	}{
		{0, 2, 3},
		{19 * time.Second, 2, 3},
		{time.Second, 3, 3},
		{20 * time.Second, 4, 3},
	} {
		clock.Add(tc.advance)
		first, head, err := l.Bounds(ctx, "acme")
		if err != nil || first != tc.first || head != tc.head {
			t.Fatalf("after +%v Bounds = %d, %d, %v; want %d, %d", tc.advance, first, head, err, tc.first, tc.head)
		}
	}
	if hd, _ := l.Head(ctx, "acme"); hd != (Head{Seq: 3}) {
		t.Fatalf("Head = %+v", hd)
	}
	if r := mustAppend(t, l, "acme", drafts(2, "b")...); !slices.Equal(r.Seqs, []uint64{4, 5}) {
		t.Fatalf("seqs %v", r.Seqs)
	}
}

func TestMemoryEpochsDiffer(t *testing.T) {
	a, b := NewMemory(MemoryConfig{}), NewMemory(MemoryConfig{})
	if a.Epoch() == b.Epoch() || a.Epoch() == "" {
		t.Fatalf("epochs %q, %q", a.Epoch(), b.Epoch())
	}
}
