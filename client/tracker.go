package client

import "fmt"

// tracker is the client's position in the org's stream and the rules that
// move it, with no I/O: the reader feeds it each frame and does what it
// answers. It is owned by the goroutine that runs Run.
//
// The position is (epoch, last): last is the seq of the last event
// delivered. After a welcome that does not resume (a fresh connection) or
// a reset, the position becomes (the welcome's epoch, head): the client
// has everything it will ever get up to head, so a reconnect before the
// next event resumes from there and loses nothing. The next event, whatever
// its seq, is then the new baseline (delivered without a check); every
// event after it must be last+1.
type tracker struct {
	epoch string
	last  uint64
	// known: (epoch, last) is a position to resume from.
	known bool
	// baseline: the next event is accepted whatever its seq.
	baseline bool
	// trust: every hole is legitimate (Config.TrustHoles).
	trust bool
	// checking: a hole was seen; the first event after last on the next
	// welcomed connection is accepted across any hole.
	checking bool

	// Per connection.
	resuming   bool   // this connection asked to resume
	welcomed   bool   // its welcome arrived
	awaitReset bool   // a resume was refused: a reset must come next
	newEpoch   string // the refusing welcome's epoch, adopted at the reset
	scoped     bool   // its welcome said scoped: holes are legitimate
}

// verdict is what to do with an event.
type verdict uint8

const (
	deliver   verdict = iota // hand it to OnEvent
	duplicate                // drop it silently (seq not after last)
	gap                      // report a hole and drop the connection (to check it)
	hole                     // hand it to OnEvent: a legitimate hole before it
)

func newTracker(epoch string, last uint64, resume bool) tracker {
	return tracker{epoch: epoch, last: last, known: resume}
}

// connect starts a connection; it returns what to ask the server for.
func (t *tracker) connect() (resume bool, lastSeq uint64, epoch string) {
	t.resuming, t.welcomed, t.awaitReset, t.newEpoch, t.scoped = t.known, false, false, "", false
	return t.known, t.last, t.epoch
}

// welcome applies a welcome frame.
func (t *tracker) welcome(w Welcome) error {
	if t.welcomed {
		return fmt.Errorf("%w: a second welcome", ErrProtocol)
	}
	t.welcomed, t.scoped = true, w.Scoped
	switch {
	case t.resuming && w.Resumed:
		if t.epoch != "" && w.Epoch != t.epoch {
			return fmt.Errorf("%w: resumed in epoch %q, asked for %q", ErrProtocol, w.Epoch, t.epoch)
		}
		t.epoch = w.Epoch // fills an epoch the client did not know
	case t.resuming:
		// The position is kept until the reset: if the connection ends
		// before it, the next one asks again and gets the reset then.
		t.awaitReset, t.newEpoch = true, w.Epoch
	default:
		t.epoch, t.last, t.known, t.baseline = w.Epoch, w.Head, true, true
	}
	return nil
}

// reset applies a reset frame.
func (t *tracker) reset(r Reset) error {
	if !t.welcomed {
		return fmt.Errorf("%w: reset before the welcome", ErrProtocol)
	}
	if t.awaitReset {
		t.epoch, t.awaitReset = t.newEpoch, false
	}
	t.last, t.known, t.baseline = r.Head, true, true
	return nil
}

// event judges an event; on deliver the position has moved to seq. For a
// gap, expected is the seq that should have come.
func (t *tracker) event(seq uint64) (v verdict, expected uint64, err error) {
	switch {
	case !t.welcomed:
		return 0, 0, fmt.Errorf("%w: event %d before the welcome", ErrProtocol, seq)
	case t.awaitReset:
		return 0, 0, fmt.Errorf("%w: event %d after a refused resume without a reset", ErrProtocol, seq)
	case t.baseline:
		t.last, t.baseline, t.checking = seq, false, false
		return deliver, 0, nil
	case seq <= t.last:
		return duplicate, 0, nil
	case seq == t.last+1:
		t.last, t.checking = seq, false
		return deliver, 0, nil
	case t.scoped || t.trust || t.checking:
		t.last, t.checking = seq, false
		return hole, 0, nil
	}
	t.checking = true
	return gap, t.last + 1, nil
}
