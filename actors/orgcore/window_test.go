package orgcore

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
	w := newWindow(0, 4, 0, time.Minute)
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
	w := newWindow(0, 100, 0, 10*time.Second)
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

// sized is an entry whose frames take plain+deflated bytes.
func sized(seq uint64, plain, deflated int) entry {
	f := &messages.Frame{Seq: seq, Plain: make([]byte, plain)}
	if deflated > 0 {
		f.Deflated = make([]byte, deflated)
	}
	return entry{seq: seq, frame: f}
}

// The window evicts its oldest frames once their bytes, plain and deflated,
// pass maxBytes, and always keeps the newest; what it keeps is contiguous
// and ends at the head, whatever evicted it (count, bytes, retention).
func TestWindowBoundedInBytes(t *testing.T) {
	type ev struct{ plain, deflated int }
	tests := []struct {
		name      string
		size      int
		maxBytes  int
		events    []ev
		wantFirst uint64
		wantBytes int
	}{
		{"under the bound", 100, 100, []ev{{10, 0}, {20, 0}, {30, 0}}, 1, 60},
		{"exactly the bound", 100, 60, []ev{{10, 0}, {20, 0}, {30, 0}}, 1, 60},
		{"one over evicts the oldest", 100, 59, []ev{{10, 0}, {20, 0}, {30, 0}}, 2, 50},
		{"deflated copies count", 100, 50, []ev{{10, 5}, {20, 10}, {10, 5}}, 2, 45},
		{"a big event evicts several", 100, 100, []ev{{10, 0}, {20, 0}, {30, 0}, {90, 0}}, 4, 90},
		{"the newest stays even over the bound", 100, 50, []ev{{10, 0}, {80, 40}}, 2, 120},
		{"then leaves for the next", 100, 50, []ev{{80, 40}, {10, 0}}, 2, 10},
		{"the count still bounds", 2, 1000, []ev{{10, 0}, {20, 0}, {30, 0}}, 2, 50},
		{"no byte bound", 100, 0, []ev{{1 << 20, 0}, {1 << 20, 0}}, 1, 2 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(0, tt.size, tt.maxBytes, time.Minute)
			for i, e := range tt.events {
				w.add(sized(uint64(i+1), e.plain, e.deflated))
			}
			head := uint64(len(tt.events))
			if w.first() != tt.wantFirst || w.head != head || w.bytes != tt.wantBytes {
				t.Fatalf("first=%d head=%d bytes=%d, want %d %d %d", w.first(), w.head, w.bytes, tt.wantFirst, head, tt.wantBytes)
			}
			sum := 0
			for i := range w.ents {
				sum += frameBytes(&w.ents[i])
				if w.ents[i].seq != tt.wantFirst+uint64(i) {
					t.Fatalf("entry %d has seq %d", i, w.ents[i].seq)
				}
			}
			if sum != w.bytes {
				t.Fatalf("bytes counted %d, entries hold %d", w.bytes, sum)
			}
			if _, ok := w.since(tt.wantFirst - 1); ok && tt.wantFirst > 1 {
				t.Fatalf("since(%d) served from the window after eviction", tt.wantFirst-1)
			}
		})
	}
}

// Retention and jumps keep the byte count exact.
func TestWindowBytesAfterPruneAndJump(t *testing.T) {
	w := newWindow(0, 100, 1000, time.Minute)
	t0 := time.Unix(1000, 0)
	for s := uint64(1); s <= 5; s++ {
		e := sized(s, 10*int(s), 0)
		e.at = t0.Add(time.Duration(s) * time.Second)
		w.add(e)
	}
	w.prune(t0.Add(time.Minute + 3*time.Second)) // drops seqs 1 and 2
	if w.first() != 3 || w.bytes != 30+40+50 {
		t.Fatalf("after prune: first=%d bytes=%d, want 3 120", w.first(), w.bytes)
	}
	w.add(sized(9, 7, 0))
	if w.first() != 9 || w.bytes != 7 {
		t.Fatalf("after a jump: first=%d bytes=%d, want 9 7", w.first(), w.bytes)
	}
}
