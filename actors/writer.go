package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/orgstream/orgstream/persistence"
)

// writer is the org's single writer on this node, a child of the org actor
// so that a slow append never holds up delivery. It keeps the head it last
// wrote; across nodes the log arbitrates with optimistic concurrency, and on
// a conflict the writer re-reads the head and retries (DESIGN.md
// invariant 2). It replies to the publisher only after the log stored the
// events (invariant 8).
type writer struct {
	log     persistence.Log
	org     string
	ctx     context.Context
	retries int
	acked   *atomic.Uint64 // the org entry's: raised before each answer

	head  persistence.Head
	known bool
}

func (w *writer) Receive(ctx actor.Context) {
	req, ok := ctx.Message().(*publishRequest)
	if !ok {
		return
	}
	res, err := w.append(req)
	if err == nil && len(res.Events) > 0 {
		raise(w.acked, res.Head.Seq)
	}
	ctx.Respond(&publishResult{seqs: res.Seqs, allDuplicate: len(res.Events) == 0, stored: len(res.Events), err: err})
}

// append stores req's drafts, within req's context (and the hub's): an
// append whose publisher already gave up is not started, as its answer
// (503) told that nothing was stored; one that the end of the context cuts
// short ends in persistence.ErrOutcomeUnknown.
func (w *writer) append(req *publishRequest) (persistence.Appended, error) {
	ctx := w.ctx
	if req.ctx != nil {
		c, cancel := context.WithCancel(req.ctx)
		defer cancel()
		defer context.AfterFunc(w.ctx, cancel)()
		ctx = c
	}
	for attempt := 0; ; attempt++ {
		// Nothing is stored yet (a conflict stores nothing): a request
		// given up on is not started, nor retried.
		if err := ctx.Err(); err != nil || !req.start() {
			return persistence.Appended{}, fmt.Errorf("actors: append to %s: %w: the publisher gave up before the append started",
				w.org, persistence.ErrUnavailable)
		}
		if !w.known {
			h, err := w.log.Head(ctx, w.org)
			if err != nil {
				return persistence.Appended{}, fmt.Errorf("actors: read head of %s: %w", w.org, err)
			}
			w.head, w.known = h, true
		}
		res, err := w.log.Append(ctx, w.org, w.head, req.drafts)
		if err == nil {
			w.head = res.Head
			return res, nil
		}
		// Whatever failed, the head we hold may be stale now.
		w.known = false
		if !errors.Is(err, persistence.ErrConflict) || attempt >= w.retries {
			return persistence.Appended{}, fmt.Errorf("actors: append to %s: %w", w.org, err)
		}
		// Writers on other nodes contend for the same next seq, and on a
		// replicated log the winner's write may still be in flight (the
		// leader refuses ours until it is applied): retrying at once mostly
		// loses again, so wait a little, at random, longer each time.
		t := time.NewTimer(conflictBackoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return persistence.Appended{}, fmt.Errorf("actors: append to %s: %w: %w", w.org, persistence.ErrUnavailable, ctx.Err())
		}
	}
}

// raise sets a to seq unless it is already higher.
func raise(a *atomic.Uint64, seq uint64) {
	for {
		cur := a.Load()
		if cur >= seq || a.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// maxConflictBackoff caps the wait between conflict retries.
const maxConflictBackoff = 50 * time.Millisecond

// conflictBackoff is the jittered wait before retry attempt+1: random in
// [0, min(1ms << attempt, maxConflictBackoff)).
func conflictBackoff(attempt int) time.Duration {
	d := maxConflictBackoff
	if attempt < 6 { // 1ms << 6 > 50ms
		d = min(time.Millisecond<<attempt, d)
	}
	return rand.N(d)
}
