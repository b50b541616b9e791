package transport

import (
	"context"
	"errors"
	"net"

	"github.com/orgstream/orgstream/messages"
)

// Publisher appends events to an org's log (the org actor's writer).
type Publisher interface {
	// Publish returns once every draft is durable: one seq per draft, in
	// order, consecutive for the stored ones. allDuplicate is true when every
	// draft carried an ID already seen in the dedup window (nothing stored).
	// Errors: one wrapping ErrPublishTooLarge means 413 payload_too_large
	// (nothing stored; a retry cannot succeed), ErrOutcomeUnknown 503
	// outcome_unknown (stored or not: retry with the same ids), a
	// *messages.Error 400 with its code; any other means 503 log_unavailable
	// (nothing stored).
	Publish(ctx context.Context, org string, drafts []messages.Draft) (seqs []uint64, allDuplicate bool, err error)
}

// ErrOutcomeUnknown is what a Publisher error wraps when the log may have
// stored the events, or may still store them (an append cut off by its
// deadline): 503 outcome_unknown.
var ErrOutcomeUnknown = errors.New("transport: the outcome of the publish is unknown")

// ErrPublishTooLarge is what a Publisher error wraps when an event is over
// the log's size limits (the NATS server's max payload): 413
// payload_too_large, nothing stored.
var ErrPublishTooLarge = errors.New("transport: an event is over the log's size limit")

// Stream is an accepted stream request (see messages.Stream).
type Stream = messages.Stream

// Streams takes ownership of upgraded connections.
type Streams interface {
	// Open serves the stream on conn until it closes. It must not block: it
	// hands conn to a connection actor and returns. conn has completed the
	// handshake; any bytes the client sent after it are readable from conn.
	// For a Server-Sent Events stream (s.SSE set) nothing was answered yet:
	// Open writes s.SSE.Head and the stream, or s.SSE.Refusal.
	Open(conn net.Conn, s Stream)
}

// Readiness tells whether the node accepts new streams and publishes.
type Readiness interface {
	// Ready is nil when the store is reachable and the node is not draining;
	// otherwise an error saying why (surfaced as 503).
	Ready() error
}
