package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// ev is one event as a publisher sent it.
type ev struct {
	Topic string
	Data  string // exact JSON bytes sent
	ID    string
}

// body is the publish body of evs: one event, or a batch when batch is set.
func body(evs []ev, batch bool) string {
	if !batch {
		return testkit.EventBody(evs[0].Topic, evs[0].Data, evs[0].ID)
	}
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = testkit.EventBody(e.Topic, e.Data, e.ID)
	}
	return `{"events":[` + strings.Join(parts, ",") + `]}`
}

// ledger records what publishers sent and which seqs were acknowledged.
// Safe for concurrent use.
type ledger struct {
	mu    sync.Mutex
	acked map[uint64]ev
	sent  map[string]bool // Data of every event sent, acked or not
	errs  []error         // contract breaches seen in answers
}

func newLedger() *ledger {
	return &ledger{acked: map[uint64]ev{}, sent: map[string]bool{}}
}

// publish posts evs (as a batch when batch) and records the seqs of a 201,
// or of a 200 (a retry whose ids were stored before). A transport error or
// another status is returned without recording; an answer that breaks the
// contract (wrong count, non-consecutive batch seqs, one seq acknowledged
// for two different events) is recorded in errs.
func (l *ledger) publish(ctx context.Context, base, org, token string, evs []ev, batch bool) ([]uint64, error) {
	l.mu.Lock()
	for _, e := range evs {
		l.sent[e.Data] = true
	}
	l.mu.Unlock()
	st, b, err := testkit.Post(ctx, base, org, token, body(evs, batch))
	if err != nil {
		return nil, err
	}
	if st != http.StatusCreated && st != http.StatusOK {
		return nil, fmt.Errorf("publish: status %d: %s", st, b)
	}
	var a testkit.SeqAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, l.breach(fmt.Errorf("publish: answer %s: %v", b, err))
	}
	seqs := a.Seqs
	if !batch {
		seqs = []uint64{a.Seq}
	}
	if len(seqs) != len(evs) || seqs[0] == 0 {
		return nil, l.breach(fmt.Errorf("publish of %d events: answer %s", len(evs), b))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return nil, l.breach(fmt.Errorf("batch seqs not consecutive: %s", b))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range seqs {
		if prev, dup := l.acked[s]; dup && prev != evs[i] {
			l.errs = append(l.errs, fmt.Errorf("seq %d acknowledged twice (%s, then %s)", s, prev.Data, evs[i].Data))
		}
		l.acked[s] = evs[i]
	}
	return seqs, nil
}

func (l *ledger) breach(err error) error {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	return err
}

// ackedSeqs returns the acknowledged seqs, sorted.
func (l *ledger) ackedSeqs() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]uint64, 0, len(l.acked))
	for s := range l.acked {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// check fails t on any contract breach seen in the answers.
func (l *ledger) check(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		t.Error(err)
	}
}

// verifyStored checks events read from the log (in the order received)
// against the ledger: seqs exactly 1..len(events); every acknowledged seq
// present with the topic, id and data bytes it was published with; every
// stored event one that was sent, stored once.
func (l *ledger) verifyStored(t testing.TB, events []testkit.Frame) {
	t.Helper()
	seqs := make([]uint64, len(events))
	for i, e := range events {
		seqs[i] = e.Seq
	}
	if err := testkit.CheckRange(seqs, 1, uint64(len(events))); err != nil {
		t.Fatalf("stored events: %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]uint64{}
	for _, e := range events {
		data := string(e.Data)
		if first, dup := seen[data]; dup {
			t.Errorf("event data %s stored twice: seqs %d and %d", data, first, e.Seq)
		}
		seen[data] = e.Seq
		if !l.sent[data] {
			t.Errorf("seq %d: data %s was never sent", e.Seq, data)
		}
		want, ok := l.acked[e.Seq]
		if !ok {
			continue // in flight at the kill: stored but not acknowledged
		}
		if data != want.Data || e.Topic != want.Topic || e.ID != want.ID {
			t.Errorf("seq %d: got topic %q id %q data %s, published topic %q id %q data %s",
				e.Seq, e.Topic, e.ID, data, want.Topic, want.ID, want.Data)
		}
	}
	for s := range l.acked {
		if s > uint64(len(events)) {
			t.Errorf("acknowledged seq %d lost: the log ends at %d", s, len(events))
		}
	}
}

// eventData is unique JSON for event i of publisher g, with irregular
// spacing so that "byte for byte" is tested, not only "equal as JSON".
func eventData(g, i int) string {
	return fmt.Sprintf(`{"g":%d, "i":%d,"pad":"%s" , "nested":{"a":[1, 2,{"b":null}]}}`, g, i, strings.Repeat("x", i%13))
}

// resume connects to d with last_seq and epoch, checks the welcome is a
// resume from lastSeq+1 to head, and returns the client and the welcome.
func resume(ctx context.Context, t *testing.T, d *daemon, token string, lastSeq uint64, epoch string) (*testkit.Client, testkit.Frame) {
	t.Helper()
	c := testkit.Dial(ctx, t, testkit.StreamURL(d.Base, token, testkit.ResumeQuery(lastSeq, epoch)), nil)
	w := c.ExpectWelcome(ctx)
	if !w.Resumed || w.Epoch != epoch {
		t.Fatalf("resume after %d in epoch %s: welcome %s, want resumed:true with the same epoch", lastSeq, epoch, w.Raw)
	}
	if w.Replay == nil || w.Replay.From != lastSeq+1 || w.Replay.To != w.Head {
		t.Fatalf("resume after %d: welcome %s, want replay from %d to head", lastSeq, w.Raw, lastSeq+1)
	}
	return c, w
}

// phase is the deadline of one phase of a test (a read on a testkit.Client
// with an ended context closes the connection, so one per phase).
func phase(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
