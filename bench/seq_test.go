package bench

import "testing"

func TestSeqTracker(t *testing.T) {
	cases := []struct {
		name     string
		base     uint64
		seqs     []uint64
		head     uint64 // for Finish; 0 = not called
		verdicts []SeqVerdict
		want     SeqTracker
	}{
		{name: "in order from 0", seqs: []uint64{1, 2, 3},
			verdicts: []SeqVerdict{SeqOK, SeqOK, SeqOK},
			want:     SeqTracker{Last: 3, Events: 3}},
		{name: "in order from a head", base: 41, seqs: []uint64{42, 43},
			verdicts: []SeqVerdict{SeqOK, SeqOK},
			want:     SeqTracker{Last: 43, Events: 2}},
		{name: "one gap of three", seqs: []uint64{1, 5, 6},
			verdicts: []SeqVerdict{SeqOK, SeqGap, SeqOK},
			want:     SeqTracker{Last: 6, Missing: 3, Gaps: 1, Events: 3}},
		{name: "gap at the start", base: 10, seqs: []uint64{12},
			verdicts: []SeqVerdict{SeqGap},
			want:     SeqTracker{Last: 12, Missing: 1, Gaps: 1, Events: 1}},
		{name: "repeat", seqs: []uint64{1, 2, 2, 3},
			verdicts: []SeqVerdict{SeqOK, SeqOK, SeqDup, SeqOK},
			want:     SeqTracker{Last: 3, Dups: 1, Events: 4}},
		{name: "replayed from before the base", base: 5, seqs: []uint64{3, 6},
			verdicts: []SeqVerdict{SeqDup, SeqOK},
			want:     SeqTracker{Last: 6, Dups: 1, Events: 2}},
		{name: "out of order is a gap then a duplicate", seqs: []uint64{1, 3, 2, 4},
			verdicts: []SeqVerdict{SeqOK, SeqGap, SeqDup, SeqOK},
			want:     SeqTracker{Last: 4, Missing: 1, Gaps: 1, Dups: 1, Events: 4}},
		{name: "short of the head", seqs: []uint64{1, 2}, head: 5,
			verdicts: []SeqVerdict{SeqOK, SeqOK},
			want:     SeqTracker{Last: 5, Missing: 3, Gaps: 1, Events: 2}},
		{name: "at the head", seqs: []uint64{1, 2}, head: 2,
			verdicts: []SeqVerdict{SeqOK, SeqOK},
			want:     SeqTracker{Last: 2, Events: 2}},
		{name: "nothing received, nothing published", head: 0,
			want: SeqTracker{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tr SeqTracker
			tr.Rebase(tc.base)
			for i, s := range tc.seqs {
				if v := tr.Observe(s); v != tc.verdicts[i] {
					t.Errorf("Observe(%d) = %v, want %v", s, v, tc.verdicts[i])
				}
			}
			if tc.head != 0 {
				tr.Finish(tc.head)
			}
			if tr != tc.want {
				t.Errorf("tracker = %+v, want %+v", tr, tc.want)
			}
			if tr.Clean() != (tc.want.Gaps == 0 && tc.want.Dups == 0) {
				t.Errorf("Clean() = %v", tr.Clean())
			}
		})
	}
}

func TestSeqTrackerRebaseKeepsCounts(t *testing.T) {
	var tr SeqTracker
	tr.Observe(1)
	tr.Observe(3)
	tr.Rebase(10) // a reset frame moved the position
	tr.Observe(11)
	want := SeqTracker{Last: 11, Missing: 1, Gaps: 1, Events: 3}
	if tr != want {
		t.Errorf("tracker = %+v, want %+v", tr, want)
	}
}
