package actors

import (
	"context"
	"sync/atomic"

	"github.com/orgstream/orgstream/messages"
)

// The messages the actors of this package exchange. Values that cross
// package boundaries (drafts, events, frames, stream requests) live in
// package messages; these carry actor-internal references and stay here.

// subscribe asks the org actor to serve a connection from a position.
type subscribe struct {
	sub    *subscriber
	pos    position
	stream messages.Stream
}

// presenceChange is a presence frame for the org's presence=true streams,
// encoded once by the hub (Hub.PresenceChanged).
type presenceChange struct{ frame *messages.Frame }

// unsubscribe removes a connection from its org.
type unsubscribe struct{ connID string }

// liveEvent is an event the log stored, with its frame already encoded (by
// the follower goroutine, off the org actor's mailbox).
type liveEvent struct {
	ev    messages.Event
	frame *messages.Frame
}

// resolved reports that a replay goroutine finished its part for a
// subscriber: the next seq it needs, or that the replay failed (the log's
// bounds come back in bounded, and the core decides the plan).
type resolved struct {
	connID string
	next   uint64
	failed bool
}

// publishRequest asks the org's writer to append drafts durably.
type publishRequest struct {
	// ctx is the publisher's: once it ended (the publisher was answered,
	// or gave up) the writer no longer starts the append.
	ctx    context.Context
	drafts []messages.Draft
	// state is reqQueued until either the writer starts the append
	// (reqStarted) or the publisher stops waiting for it (reqAbandoned):
	// whichever comes first tells the publisher whether the log may store
	// the drafts.
	state atomic.Int32
}

// publishRequest.state values.
const (
	reqQueued int32 = iota
	reqStarted
	reqAbandoned
)

// start marks the append started; false when the publisher gave up on it.
func (r *publishRequest) start() bool {
	return r.state.CompareAndSwap(reqQueued, reqStarted) || r.state.Load() == reqStarted
}

// abandon marks the request given up on; false when its append started
// already (its outcome is then unknown).
func (r *publishRequest) abandon() bool {
	return r.state.CompareAndSwap(reqQueued, reqAbandoned) || r.state.Load() == reqAbandoned
}

// publishResult answers a publishRequest.
type publishResult struct {
	seqs         []uint64
	allDuplicate bool
	stored       int // drafts newly stored (not duplicates)
	err          error
}

// flush tells a connection actor that its outbox has frames.
type flush struct{}

// closeConn tells a connection actor to close with a code.
type closeConn struct {
	code   uint16
	reason string
	// fromPeer: the client sent a close frame (it started the closing
	// handshake, or answered ours).
	fromPeer bool
}

// peerGone tells a connection actor that its socket's reader ended.
type peerGone struct{ err error }

var flushMsg = &flush{}
