package client

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// step is one frame fed to a tracker, written as a short script word:
//
//	connect            start a connection (checks the query it asks for)
//	welcome E H        fresh welcome in epoch E, head H
//	resumed E H        resumed welcome
//	scoped E H         resumed welcome of a stream with a topic scope
//	reset H            reset with head H
//	ev N               an event with seq N
//
// and the expected answer: "deliver", "dup", "gap N" (the expected seq),
// "hole" (delivered across a legitimate hole),
// "err", "ok", or for connect "fresh" / "resume E L".
type step struct{ in, want string }

func runTracker(t *testing.T, tr *tracker, steps []step) {
	t.Helper()
	for i, s := range steps {
		f := strings.Fields(s.in)
		num := func(k int) uint64 {
			var n uint64
			fmt.Sscan(f[k], &n)
			return n
		}
		var got string
		var err error
		switch f[0] {
		case "connect":
			resume, last, epoch := tr.connect()
			got = "fresh"
			if resume {
				got = fmt.Sprintf("resume %s %d", epoch, last)
			}
		case "welcome", "resumed", "scoped":
			err = tr.welcome(Welcome{Epoch: f[1], Head: num(2), Resumed: f[0] != "welcome", Scoped: f[0] == "scoped"})
			got = "ok"
		case "reset":
			err = tr.reset(Reset{Reason: "epoch_changed", Head: num(1)})
			got = "ok"
		case "ev":
			var v verdict
			var exp uint64
			v, exp, err = tr.event(num(1))
			got = [...]string{"deliver", "dup", "gap", "hole"}[v]
			if v == gap {
				got += fmt.Sprint(" ", exp)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("step %d %q: error %v is not ErrProtocol", i, s.in, err)
			}
			got = "err"
		}
		if got != s.want {
			t.Fatalf("step %d %q: got %q, want %q (tracker %+v)", i, s.in, got, s.want, *tr)
		}
	}
}

func TestTracker(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		start tracker
		steps []step
		epoch string
		last  uint64
	}{
		{
			name:  "fresh start: live from head, then strictly in order",
			start: newTracker("", 0, false),
			steps: []step{{"connect", "fresh"}, {"welcome e1 10", "ok"}, {"ev 11", "deliver"},
				{"ev 12", "deliver"}, {"ev 12", "dup"}, {"ev 5", "dup"}, {"ev 13", "deliver"}},
			epoch: "e1", last: 13,
		},
		{
			name:  "a fresh welcome is a position: a reconnect before any event resumes from head",
			start: newTracker("", 0, false),
			steps: []step{{"connect", "fresh"}, {"welcome e1 10", "ok"}, {"connect", "resume e1 10"},
				{"resumed e1 12", "ok"}, {"ev 11", "deliver"}, {"ev 12", "deliver"}},
			epoch: "e1", last: 12,
		},
		{
			name:  "hole",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 5", "deliver"},
				{"ev 7", "gap 6"}, {"connect", "resume e1 5"}, {"resumed e1 9", "ok"}, {"ev 6", "deliver"}},
			epoch: "e1", last: 6,
		},
		{
			name:  "a hole checked by a resume that confirms it: taken, no loop",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 5", "deliver"},
				{"ev 8", "gap 6"}, {"connect", "resume e1 5"}, {"resumed e1 9", "ok"}, {"ev 5", "dup"},
				{"ev 8", "hole"}, {"ev 9", "deliver"}, {"ev 11", "gap 10"}},
			epoch: "e1", last: 9,
		},
		{
			name:  "a check survives a connection that ended before any event",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 7", "gap 5"},
				{"connect", "resume e1 4"}, {"resumed e1 9", "ok"},
				{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 7", "hole"}},
			epoch: "e1", last: 7,
		},
		{
			name:  "a scoped stream's holes are legitimate",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"scoped e1 30", "ok"}, {"ev 9", "hole"},
				{"ev 10", "deliver"}, {"ev 20", "hole"}, {"ev 20", "dup"}, {"ev 12", "dup"}},
			epoch: "e1", last: 20,
		},
		{
			name:  "the next connection is unscoped again",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"scoped e1 30", "ok"}, {"ev 9", "hole"},
				{"connect", "resume e1 9"}, {"resumed e1 30", "ok"}, {"ev 11", "gap 10"}},
			epoch: "e1", last: 9,
		},
		{
			name:  "trusted holes",
			start: tracker{epoch: "e1", last: 4, known: true, trust: true},
			steps: []step{{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 7", "hole"}, {"ev 9", "hole"}},
			epoch: "e1", last: 9,
		},
		{
			name:  "a hole at the seam of a resume",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 6", "gap 5"}},
			epoch: "e1", last: 4,
		},
		{
			name:  "duplicates at the seam are dropped",
			start: newTracker("e1", 4, true),
			steps: []step{{"connect", "resume e1 4"}, {"resumed e1 9", "ok"}, {"ev 3", "dup"}, {"ev 4", "dup"}, {"ev 5", "deliver"}},
			epoch: "e1", last: 5,
		},
		{
			name:  "refused resume: the position stays until the reset, then head, then any seq is the baseline",
			start: newTracker("old", 500, true),
			steps: []step{{"connect", "resume old 500"}, {"welcome new 20", "ok"}, {"connect", "resume old 500"},
				{"welcome new 20", "ok"}, {"reset 21", "ok"}, {"connect", "resume new 21"},
				{"welcome new 30", "ok"}, {"reset 30", "ok"}, {"ev 35", "deliver"}, {"ev 36", "deliver"}, {"ev 38", "gap 37"}},
			epoch: "new", last: 36,
		},
		{
			name:  "resume without an epoch adopts the server's",
			start: newTracker("", 7, true),
			steps: []step{{"connect", "resume  7"}, {"resumed e9 7", "ok"}, {"ev 8", "deliver"}},
			epoch: "e9", last: 8,
		},
		{
			name:  "protocol errors",
			start: newTracker("e1", 1, true),
			steps: []step{{"connect", "resume e1 1"}, {"ev 2", "err"}, {"reset 3", "err"},
				{"resumed e1 3", "ok"}, {"resumed e1 3", "err"},
				{"connect", "resume e1 1"}, {"resumed other 3", "err"},
				{"connect", "resume e1 1"}, {"welcome e2 3", "ok"}, {"ev 4", "err"}},
			epoch: "e1", last: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.start
			runTracker(t, &tr, tc.steps)
			if tr.epoch != tc.epoch || tr.last != tc.last {
				t.Fatalf("position (%q, %d), want (%q, %d)", tr.epoch, tr.last, tc.epoch, tc.last)
			}
		})
	}
}
