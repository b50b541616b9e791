package persistence

import (
	"fmt"
	"testing"
)

// on builds a placement: stream led by leader, the other replicas current
// and online unless named in lagging or down.
func on(stream, leader string, others ...string) placement {
	p := placement{stream: stream, leader: leader}
	for _, o := range others {
		r := peer{name: o, current: true}
		switch o[0] {
		case '~': // catching up
			r = peer{name: o[1:]}
		case '!': // offline
			r = peer{name: o[1:], offline: true}
		}
		p.peers = append(p.peers, r)
	}
	return p
}

func TestPlanMove(t *testing.T) {
	all3 := func(i int, leader string) placement {
		var others []string
		for _, n := range []string{"n1", "n2", "n3"} {
			if n != leader {
				others = append(others, n)
			}
		}
		return on(fmt.Sprintf("s%d", i), leader, others...)
	}
	tests := []struct {
		name string
		self string
		ps   []placement
		want string // "stream→to", or "" for no move
	}{
		{"all on self: to the least loaded, lowest name first", "n1",
			[]placement{all3(0, "n1"), all3(1, "n1"), all3(2, "n1")}, "s0→n2"},
		{"all on another server: self moves nothing", "n2",
			[]placement{all3(0, "n1"), all3(1, "n1"), all3(2, "n1")}, ""},
		{"within ±1 already", "n1",
			[]placement{all3(0, "n1"), all3(1, "n1"), all3(2, "n2"), all3(3, "n3"), all3(4, "n2")}, ""},
		{"two more than the least loaded", "n2",
			[]placement{all3(0, "n1"), all3(1, "n2"), all3(2, "n2"), all3(3, "n2")}, "s1→n3"},
		{"the least loaded first, not the lowest name", "n1",
			[]placement{all3(0, "n1"), all3(1, "n1"), all3(2, "n1"), all3(3, "n2"), all3(4, "n1")}, "s0→n3"},
		{"never onto a replica catching up", "n1",
			[]placement{on("s0", "n1", "~n2", "n3"), on("s1", "n1", "~n2", "n3"), on("s2", "n1", "~n2", "n3"), on("s3", "n3", "~n2", "n1"), on("s4", "n3", "~n2", "n1")}, ""},
		{"a catching-up replica of one stream, a current one of another", "n1",
			[]placement{on("s0", "n1", "~n2", "n3"), on("s1", "n1", "n2", "n3"), on("s2", "n1", "~n2", "n3")}, "s1→n2"},
		{"an offline server is not a target and not counted", "n1",
			[]placement{on("s0", "n1", "!n2", "n3"), on("s1", "n1", "!n2", "n3"), on("s2", "n3", "!n2", "n1")}, ""},
		{"R1 streams neither count nor move", "n1",
			[]placement{on("s0", "n1"), on("s1", "n1"), on("s2", "n1"), all3(3, "n2")}, ""},
		{"a stream without a leader is not counted", "n1",
			[]placement{all3(0, "n1"), all3(1, "n1"), {stream: "s2", peers: []peer{{name: "n2", current: true}}}, all3(3, "n2"), all3(4, "n3")}, ""},
		{"replicas on a subset of 5 servers: only where self's streams live", "a",
			[]placement{on("s0", "a", "b", "c"), on("s1", "a", "b", "c"), on("s2", "a", "b", "c"),
				on("s3", "b", "d", "e"), on("s4", "c", "d", "e")}, "s0→b"},
		{"self unknown to the streams", "zz",
			[]placement{all3(0, "n1"), all3(1, "n1"), all3(2, "n1")}, ""},
		{"nothing", "n1", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mv, ok := planMove(tc.self, tc.ps)
			got := ""
			if ok {
				got = mv.stream + "→" + mv.to
				if mv.from != tc.self || mv.fromLeads < mv.toLeads+2 {
					t.Errorf("move %+v: not from self or not worth it", mv)
				}
			}
			if got != tc.want {
				t.Errorf("planMove(%s) = %q, want %q", tc.self, got, tc.want)
			}
		})
	}
}

// Every server applying its own plans, one move at a time in any order,
// ends with the leaders within ±1 (the counts' spread shrinks with each
// move, so it ends).
func TestPlanMoveConverges(t *testing.T) {
	servers := []string{"n1", "n2", "n3"}
	for _, streams := range []int{2, 6, 12, 13} {
		ps := make([]placement, streams)
		for i := range ps {
			ps[i] = on(fmt.Sprintf("s%d", i), "n1", "n2", "n3")
		}
		moves := 0
		for round := 0; ; round++ {
			moved := false
			for k := range servers {
				self := servers[(round+k)%len(servers)]
				mv, ok := planMove(self, ps)
				if !ok {
					continue
				}
				for i := range ps {
					if ps[i].stream == mv.stream {
						ps[i] = on(mv.stream, mv.to, without(servers, mv.to)...)
					}
				}
				moved, moves = true, moves+1
			}
			if !moved {
				break
			}
			if round > 100 {
				t.Fatalf("%d streams: no end after %d rounds", streams, round)
			}
		}
		lo, hi := streams, 0
		for _, c := range leaderCounts(ps) {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > 1 {
			t.Errorf("%d streams: counts %v after %d moves", streams, leaderCounts(ps), moves)
		}
		if want := streams - (streams+2)/3; moves != want {
			t.Errorf("%d streams: %d moves, want %d (each one needed)", streams, moves, want)
		}
	}
}

func without(all []string, x string) []string {
	var out []string
	for _, s := range all {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}
