package bench

// SeqTracker checks one stream's event seqs against the contract: after a
// base (the welcome's head, or the last_seq a resume asked for) the events
// are base+1, base+2, … with no hole and no repeat. It is not safe for
// concurrent use; each connection owns one.
type SeqTracker struct {
	// Last is the highest seq seen (or the base).
	Last uint64
	// Missing counts seqs skipped over (a jump from 5 to 9 misses 3).
	Missing uint64
	// Gaps counts jumps (a jump from 5 to 9 is one gap).
	Gaps uint64
	// Dups counts events at or below Last (repeats or out of order).
	Dups uint64
	// Events counts every observed event.
	Events uint64
}

// SeqVerdict is what Observe found.
type SeqVerdict uint8

// Verdicts of Observe.
const (
	SeqOK  SeqVerdict = iota // the next seq
	SeqGap                   // later than the next seq
	SeqDup                   // at or before the last seq
)

// Rebase sets the position the next event must follow (after a welcome or a
// reset), keeping the counts.
func (t *SeqTracker) Rebase(base uint64) { t.Last = base }

// Observe checks seq against the position and advances it.
func (t *SeqTracker) Observe(seq uint64) SeqVerdict {
	t.Events++
	switch {
	case seq == t.Last+1:
		t.Last = seq
		return SeqOK
	case seq <= t.Last:
		t.Dups++
		return SeqDup
	default:
		t.Missing += seq - t.Last - 1
		t.Gaps++
		t.Last = seq
		return SeqGap
	}
}

// Finish accounts for the events between Last and head that never came
// (a stream that ended short of the org's final seq) as one gap.
func (t *SeqTracker) Finish(head uint64) {
	if head > t.Last {
		t.Missing += head - t.Last
		t.Gaps++
		t.Last = head
	}
}

// Clean reports whether no gap and no duplicate was seen.
func (t *SeqTracker) Clean() bool { return t.Gaps == 0 && t.Dups == 0 }
