package orgcore

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

func TestPlanFast(t *testing.T) {
	w := newWindow(0, 100, 0, time.Hour)
	fillWindow(w, 1, 50, time.Now())
	w2 := newWindow(0, 10, 0, time.Hour)
	fillWindow(w2, 1, 50, time.Now()) // holds 41..50
	tests := []struct {
		name     string
		w        *window
		pos      Position
		ok       bool
		resumed  bool
		from, to uint64
		next     uint64
	}{
		{name: "fresh", w: w, pos: Position{}, ok: true, next: 51},
		{name: "resume in window", w: w, pos: Position{Resume: true, Last: 40, Epoch: "e1"}, ok: true, resumed: true, from: 41, to: 50, next: 41},
		{name: "resume without epoch", w: w, pos: Position{Resume: true, Last: 0}, ok: true, resumed: true, from: 1, to: 50, next: 1},
		{name: "resume at head", w: w, pos: Position{Resume: true, Last: 50}, ok: true, resumed: true, from: 51, to: 50, next: 51},
		{name: "resume at window edge", w: w2, pos: Position{Resume: true, Last: 40}, ok: true, resumed: true, from: 41, to: 50, next: 41},
		{name: "older than window", w: w2, pos: Position{Resume: true, Last: 39}},
		{name: "past head", w: w, pos: Position{Resume: true, Last: 51}},
		{name: "other epoch", w: w, pos: Position{Resume: true, Last: 40, Epoch: "e0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, ok := planFast(tt.w, tt.w.head, "e1", tt.pos)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if pl.reset != nil || pl.welcome.Resumed != tt.resumed || pl.next != tt.next || pl.welcome.Head != 50 {
				t.Fatalf("plan = %+v", pl)
			}
			if tt.resumed && (pl.welcome.ReplayFrom != tt.from || pl.welcome.ReplayTo != tt.to) {
				t.Fatalf("replay %d..%d, want %d..%d", pl.welcome.ReplayFrom, pl.welcome.ReplayTo, tt.from, tt.to)
			}
		})
	}
}

func TestPlanFastHeadPastWindow(t *testing.T) {
	// Seqs 11 and 12 are acknowledged but not yet delivered by the feed.
	w := newWindow(0, 100, 0, time.Hour)
	fillWindow(w, 1, 10, time.Now())
	pl, ok := planFast(w, 12, "e1", Position{})
	if !ok || pl.welcome.Head != 12 || pl.next != 13 {
		t.Fatalf("fresh: ok=%v head=%d next=%d, want head 12, live from 13", ok, pl.welcome.Head, pl.next)
	}
	pl, ok = planFast(w, 12, "e1", Position{Resume: true, Last: 5})
	if !ok || pl.welcome.ReplayFrom != 6 || pl.welcome.ReplayTo != 12 || pl.next != 6 {
		t.Fatalf("resume: ok=%v %+v next=%d, want replay 6..12 from 6", ok, pl.welcome, pl.next)
	}
}

func TestPlanWithBounds(t *testing.T) {
	const head = 100
	tests := []struct {
		name           string
		pos            Position
		first, logHead uint64
		reset          string
		next           uint64
		from, to       uint64
	}{
		{name: "from the log", pos: Position{Resume: true, Last: 10, Epoch: "e1"}, first: 5, logHead: head, next: 11, from: 11, to: 100},
		{name: "just retained", pos: Position{Resume: true, Last: 4}, first: 5, logHead: head, next: 5, from: 5, to: 100},
		{name: "window exceeded", pos: Position{Resume: true, Last: 3}, first: 5, logHead: head, reset: messages.ResetWindowExceeded, next: 101},
		{name: "all aged out, client current", pos: Position{Resume: true, Last: 100}, first: 101, logHead: head, next: 101, from: 101, to: 100},
		{name: "all aged out, client behind", pos: Position{Resume: true, Last: 99}, first: 101, logHead: head, reset: messages.ResetWindowExceeded, next: 101},
		{name: "epoch changed", pos: Position{Resume: true, Last: 10, Epoch: "e0"}, first: 1, logHead: head, reset: messages.ResetEpochChanged, next: 101},
		{name: "invalid position", pos: Position{Resume: true, Last: 101}, first: 1, logHead: head, reset: messages.ResetInvalidPosition, next: 101},
		{name: "log ahead of node", pos: Position{Resume: true, Last: 103}, first: 1, logHead: 105, next: 104, from: 104, to: 105},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := planWithBounds(head, "e1", tt.pos, tt.first, tt.logHead)
			if pl.next != tt.next {
				t.Fatalf("next = %d, want %d", pl.next, tt.next)
			}
			if tt.reset != "" {
				if pl.reset == nil || pl.reset.Reason != tt.reset || pl.reset.First != tt.first || pl.welcome.Resumed {
					t.Fatalf("want reset %s first %d, got %+v", tt.reset, tt.first, pl)
				}
				return
			}
			if pl.reset != nil || !pl.welcome.Resumed || pl.welcome.ReplayFrom != tt.from || pl.welcome.ReplayTo != tt.to {
				t.Fatalf("plan = %+v reset=%v", pl.welcome, pl.reset)
			}
		})
	}
}
