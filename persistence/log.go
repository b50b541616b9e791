package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// ErrConflict means another writer appended to the org since the Head the
// caller passed: re-read the head with Log.Head and retry.
var ErrConflict = errors.New("persistence: append conflict")

// ErrUnavailable means the store cannot take or serve the request now
// (no JetStream leader, connection lost, context ended before the request
// was sent). An Append that fails with it and not with ErrOutcomeUnknown
// stored nothing and will store nothing.
var ErrUnavailable = errors.New("persistence: log unavailable")

// ErrOutcomeUnknown means an Append was sent but its answer did not come
// (a timeout, the context ended while waiting): the store may have stored
// the drafts, or may still store them (all of them or none, see Append).
// Retrying with the same draft IDs is safe (dedup); drafts without an ID
// may then be stored twice. It wraps ErrUnavailable.
var ErrOutcomeUnknown = fmt.Errorf("%w: outcome unknown", ErrUnavailable)

// ErrTooLarge means a draft is larger than the store takes (the NATS
// server's max payload, the stream's max message size): nothing was stored
// and a retry cannot succeed.
var ErrTooLarge = errors.New("persistence: draft too large")

// ErrClosed means the log was closed.
var ErrClosed = errors.New("persistence: log closed")

// ErrInvalidOrg means the org id does not match messages.ValidOrg (it would
// not be a safe subject token).
var ErrInvalidOrg = errors.New("persistence: invalid org")

// ErrBatchTooLarge means an Append carried more than MaxBatch drafts.
var ErrBatchTooLarge = errors.New("persistence: batch too large")

// MaxBatch is the most drafts one Append takes (JetStream's atomic batch
// limit, and PROTOCOL.md's batch limit).
const MaxBatch = messages.MaxBatch

// Head is the newest position of an org's log as a writer sees it.
type Head struct {
	// Seq is the org's newest seq, 0 if the org never had an event. It
	// survives retention: an org whose events all aged out keeps its Seq.
	Seq uint64
	// Rev is the store's opaque revision of the org's last stored event, used
	// for optimistic concurrency: pass the Head back unchanged, compare Revs
	// only for equality. JetStream: the stream sequence of the last message
	// on the org's subject; 0 when none is retained (the org never had an
	// event or all aged out; Seq then still tells the org's counter).
	Rev uint64
}

// Appended is the outcome of one Append.
type Appended struct {
	// Head is the org's head after the append; pass it to the next Append.
	// When every draft was a duplicate it is the Head passed in.
	Head Head
	// Seqs holds one seq per draft, in order. For a draft whose ID was seen
	// within the dedup window it is the first seq given to that ID (0 in the
	// rare case where that first event already left the log, see
	// JetStreamLog.Append).
	Seqs []uint64
	// Duplicate[i] is true when draft i was a duplicate and stored nothing.
	Duplicate []bool
	// Events holds the stored events (not the duplicates), in seq order.
	// Their Data shares memory with the drafts'.
	Events []messages.Event
}

// Log is the durable, ordered, per-org event log (DESIGN.md). All methods
// are safe for concurrent use. Org ids must satisfy messages.ValidOrg
// (ErrInvalidOrg otherwise).
type Log interface {
	// Epoch names the generation of the log; it changes only when the log is
	// recreated (store wiped), and then old seqs mean nothing.
	Epoch() string

	// Retention is how long the log keeps an event readable (its config's,
	// defaults applied); it never changes. Whoever keeps events beside the
	// log (the org actors' windows) drops them at the same age, so it never
	// serves what the log no longer replays.
	Retention() time.Duration

	// Head reads the org's newest position from the store.
	Head(ctx context.Context, org string) (Head, error)

	// Append stores drafts for org after `after`, atomically: all or none.
	// Stored drafts get consecutive seqs after.Seq+1, … It returns only once
	// the events are durable. It fails with ErrConflict (nothing stored) when
	// the org's head in the store is no longer `after`, with ErrUnavailable
	// when the store cannot take writes (nothing stored), with
	// ErrOutcomeUnknown when the answer did not come (stored or not), and
	// with ErrTooLarge when a draft is over the store's size limits.
	//
	// Drafts with an ID seen for this org within the dedup window, or
	// carrying the ID of an earlier draft of the same call, are duplicates:
	// they store nothing and report the first seq (Appended). The Append is
	// all or nothing with duplicates too: the new drafts get consecutive
	// seqs after after.Seq and the duplicates their first seqs, or nothing is
	// stored. At most MaxBatch drafts (ErrBatchTooLarge); no drafts is a
	// no-op.
	Append(ctx context.Context, org string, after Head, drafts []messages.Draft) (Appended, error)

	// Bounds returns the org's oldest retained seq and its head seq. With
	// nothing retained, first is head+1. first is where the org's
	// contiguous tail starts: from it every event up to head is retained.
	// When a message was deleted from the middle of the log (a hole: never
	// by orgstream, but an operator may), first is the seq after the newest
	// hole, head+1 when the newest event itself is gone.
	Bounds(ctx context.Context, org string) (first, head uint64, err error)

	// LeaderHead returns the org's head seq as the store's leader has it:
	// it counts every event acknowledged so far, on any node. Bounds may be
	// answered by a replica that lags the acks (cheaper, and served while the
	// leader is being elected); LeaderHead fails with ErrUnavailable then.
	LeaderHead(ctx context.Context, org string) (uint64, error)

	// Read returns up to max retained events of org with seq >= from, in seq
	// order, without holes: it stops before a missing seq (a hole, see
	// Bounds). It also stops after the event whose data brings the total to
	// ReadMaxBytes (it always returns at least one event when one is
	// retained), so that a read holds bounded memory whatever the event
	// sizes. Fewer than max means the end of the log, a hole, or the byte
	// bound (ReachedReadBytes) was reached. When from is not retained (older than the oldest retained
	// event, or in a hole), the result starts at the next retained one: a
	// caller that must see every seq compares the first seq with from and
	// checks Bounds.
	Read(ctx context.Context, org string, from uint64, max int) ([]messages.Event, error)

	// Follow calls fn for every event of org stored with seq > after, in seq
	// order, each exactly once and without holes (missing events are read
	// back from the log), until the returned Follower is stopped. fn is
	// called by one goroutine at a time, which may be shared with other
	// Followers (the log's dispatcher): it must not block.
	//
	// The only jumps are events that left the log before the feed delivered
	// them: aged out (retention) or deleted (a hole, see Bounds). The feed
	// goes on from the next retained one, so fn sees a seq greater than the
	// previous one plus one (or than after+1 for the first call); the caller
	// detects it and resets its clients. While the store is unavailable the
	// feed retries reads with backoff.
	//
	// Only stored events are delivered, whatever else reaches the store's
	// live subjects (see JetStreamLog.Follow).
	Follow(org string, after uint64, fn func(messages.Event)) (Follower, error)
}

// Follower is a live feed of one org's stored events.
type Follower interface {
	// Stop ends the feed and waits for it: fn is not called after Stop
	// returns. It must not be called from inside fn (it would wait for
	// itself). Safe to call twice.
	Stop()
}
