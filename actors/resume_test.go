package actors

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
		pos      position
		ok       bool
		resumed  bool
		from, to uint64
		next     uint64
	}{
		{name: "fresh", w: w, pos: position{}, ok: true, next: 51},
		{name: "resume in window", w: w, pos: position{resume: true, last: 40, epoch: "e1"}, ok: true, resumed: true, from: 41, to: 50, next: 41},
		{name: "resume without epoch", w: w, pos: position{resume: true, last: 0}, ok: true, resumed: true, from: 1, to: 50, next: 1},
		{name: "resume at head", w: w, pos: position{resume: true, last: 50}, ok: true, resumed: true, from: 51, to: 50, next: 51},
		{name: "resume at window edge", w: w2, pos: position{resume: true, last: 40}, ok: true, resumed: true, from: 41, to: 50, next: 41},
		{name: "older than window", w: w2, pos: position{resume: true, last: 39}},
		{name: "past head", w: w, pos: position{resume: true, last: 51}},
		{name: "other epoch", w: w, pos: position{resume: true, last: 40, epoch: "e0"}},
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
	pl, ok := planFast(w, 12, "e1", position{})
	if !ok || pl.welcome.Head != 12 || pl.next != 13 {
		t.Fatalf("fresh: ok=%v head=%d next=%d, want head 12, live from 13", ok, pl.welcome.Head, pl.next)
	}
	pl, ok = planFast(w, 12, "e1", position{resume: true, last: 5})
	if !ok || pl.welcome.ReplayFrom != 6 || pl.welcome.ReplayTo != 12 || pl.next != 6 {
		t.Fatalf("resume: ok=%v %+v next=%d, want replay 6..12 from 6", ok, pl.welcome, pl.next)
	}
}

func TestPlanWithBounds(t *testing.T) {
	const head = 100
	tests := []struct {
		name           string
		pos            position
		first, logHead uint64
		reset          string
		next           uint64
		from, to       uint64
	}{
		{name: "from the log", pos: position{resume: true, last: 10, epoch: "e1"}, first: 5, logHead: head, next: 11, from: 11, to: 100},
		{name: "just retained", pos: position{resume: true, last: 4}, first: 5, logHead: head, next: 5, from: 5, to: 100},
		{name: "window exceeded", pos: position{resume: true, last: 3}, first: 5, logHead: head, reset: messages.ResetWindowExceeded, next: 101},
		{name: "all aged out, client current", pos: position{resume: true, last: 100}, first: 101, logHead: head, next: 101, from: 101, to: 100},
		{name: "all aged out, client behind", pos: position{resume: true, last: 99}, first: 101, logHead: head, reset: messages.ResetWindowExceeded, next: 101},
		{name: "epoch changed", pos: position{resume: true, last: 10, epoch: "e0"}, first: 1, logHead: head, reset: messages.ResetEpochChanged, next: 101},
		{name: "invalid position", pos: position{resume: true, last: 101}, first: 1, logHead: head, reset: messages.ResetInvalidPosition, next: 101},
		{name: "log ahead of node", pos: position{resume: true, last: 103}, first: 1, logHead: 105, next: 104, from: 104, to: 105},
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
