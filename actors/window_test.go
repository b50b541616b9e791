package actors

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

func fillWindow(w *window, from, to uint64, at time.Time) {
	for s := from; s <= to; s++ {
		w.add(entry{seq: s, at: at, frame: &messages.Frame{Seq: s}})
	}
}

func TestWindowAddBoundsAndJumps(t *testing.T) {
	now := time.Unix(1000, 0)
	w := newWindow(0, 4, time.Minute)
	if w.first() != 1 {
		t.Fatalf("empty window first = %d, want 1", w.first())
	}
	fillWindow(w, 1, 10, now)
	if w.head != 10 || w.first() != 7 || len(w.ents) != 4 {
		t.Fatalf("head=%d first=%d len=%d, want 10 7 4", w.head, w.first(), len(w.ents))
	}
	if added, _ := w.add(entry{seq: 9, at: now}); added {
		t.Fatal("duplicate seq 9 was added")
	}
	added, jumped := w.add(entry{seq: 15, at: now, frame: &messages.Frame{Seq: 15}})
	if !added || !jumped || w.first() != 15 || w.head != 15 {
		t.Fatalf("jump: added=%v jumped=%v first=%d head=%d", added, jumped, w.first(), w.head)
	}
	for i, e := range w.ents {
		if e.frame.Seq != e.seq {
			t.Fatalf("entry %d frame seq %d != %d", i, e.frame.Seq, e.seq)
		}
	}
}

func TestWindowPruneAndSince(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newWindow(0, 100, 10*time.Second)
	fillWindow(w, 1, 5, t0)
	fillWindow(w, 6, 8, t0.Add(8*time.Second))
	w.prune(t0.Add(12 * time.Second)) // seqs 1..5 are 12s old
	if w.first() != 6 || w.head != 8 {
		t.Fatalf("after prune first=%d head=%d, want 6 8", w.first(), w.head)
	}
	tests := []struct {
		from   uint64
		ok     bool
		wantN  int
		wantAt uint64
	}{
		{from: 5, ok: false},
		{from: 6, ok: true, wantN: 3, wantAt: 6},
		{from: 8, ok: true, wantN: 1, wantAt: 8},
		{from: 9, ok: true, wantN: 0},
	}
	for _, tt := range tests {
		ents, ok := w.since(tt.from)
		if ok != tt.ok || len(ents) != tt.wantN || (tt.wantN > 0 && ents[0].seq != tt.wantAt) {
			t.Errorf("since(%d) = %d entries ok=%v, want %d ok=%v", tt.from, len(ents), ok, tt.wantN, tt.ok)
		}
	}
	w.prune(t0.Add(time.Hour))
	if w.first() != 9 || w.head != 8 {
		t.Fatalf("all pruned: first=%d head=%d, want 9 8 (the head outlives retention)", w.first(), w.head)
	}
}
