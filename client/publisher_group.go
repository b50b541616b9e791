package client

import (
	"context"
	"fmt"

	"github.com/orgstream/orgstream/messages"
)

// group is the unit a call hands to the queue: one event (Publish,
// PublishAsync) or a caller's batch (PublishBatch), encoded, with its ids.
// A request carries one group or several whole ones; a group is never
// split, so a caller's batch stays all or nothing.
type group struct {
	// ctx is the caller's: when it ends the group is no longer sent, and
	// a request stops retrying once the contexts of all its groups ended.
	ctx context.Context
	// evs are the events, each a JSON object; size is their bytes.
	evs  [][]byte
	size int
	ids  []string
	// single: one event of Publish or PublishAsync. A request of one
	// single group is sent in the one-event form ({"topic":…}, answered
	// {"seq":N}), as before batching.
	single bool
	// alone: the daemon would refuse the group as the client can tell (a
	// bad topic) or it fills a request by itself: it goes in a request of
	// its own, so that its refusal cannot fail other events.
	alone bool
	// done is closed once res is set.
	done chan struct{}
	res  groupResult
}

// groupResult is how a group's publish ended.
type groupResult struct {
	seqs     []uint64
	dup      bool
	attempts int
	batched  int
	err      error
}

// newGroup encodes ms, giving each an id, and refuses (ErrInvalidMessage)
// what cannot be sent at all.
func newGroup(ctx context.Context, ms []Message, single bool) (*group, error) {
	g := &group{ctx: ctx, evs: make([][]byte, len(ms)), ids: make([]string, len(ms)),
		single: single, done: make(chan struct{})}
	for i, m := range ms {
		b, id, err := wire(m)
		if err != nil {
			if !single {
				err = fmt.Errorf("events[%d]: %w", i, err)
			}
			return nil, err
		}
		g.evs[i], g.ids[i] = b, id
		g.size += len(b) + 1
		if !messages.ValidTopic(m.Topic) {
			g.alone = true
		}
	}
	if g.size+len(batchOpen)+len(batchClose) > maxBody {
		g.alone = true
	}
	return g, nil
}

// finish sets the group's result and wakes its waiters. Called once.
func (g *group) finish(r groupResult) {
	g.res = r
	close(g.done)
}

// fail finishes the group with err, as a PublishError with the group's ids
// when err is one (or a copy of it).
func (g *group) fail(err error, attempts, batched int) {
	if pe, ok := err.(*PublishError); ok {
		c := *pe
		c.IDs = g.ids
		err = &c
	}
	g.finish(groupResult{err: err, attempts: attempts, batched: batched})
}

// wait waits for the group's result or the end of ctx. When ctx ends first
// the events may be in a request already: the outcome is unknown.
func (g *group) wait(ctx context.Context) (groupResult, error) {
	select {
	case <-g.done:
		return g.res, g.res.err
	default:
	}
	select {
	case <-g.done:
		return g.res, g.res.err
	case <-ctx.Done():
		return groupResult{}, &PublishError{IDs: g.ids, Err: ctx.Err()}
	}
}

// Pending is an event handed to PublishAsync: its ack, once the daemon has
// stored it, or the error of its publish.
type Pending struct{ g *group }

// ID is the id the event is sent with (the Message's, or a fresh one).
func (p *Pending) ID() string { return p.g.ids[0] }

// Done is closed once the publish ended; Wait then returns at once.
func (p *Pending) Done() <-chan struct{} { return p.g.done }

// Wait waits until the publish ended, or ctx did, and returns its ack or
// error (errors as for Publisher.Publish). When ctx ends first, the error
// is ErrOutcomeUnknown with ctx's error, and the publish goes on (bounded
// by the context given to PublishAsync).
func (p *Pending) Wait(ctx context.Context) (Ack, error) {
	r, err := p.g.wait(ctx)
	if err != nil {
		return Ack{}, err
	}
	return Ack{ID: p.g.ids[0], Seq: r.seqs[0], Duplicate: r.dup, Attempts: r.attempts, Batched: r.batched}, nil
}
