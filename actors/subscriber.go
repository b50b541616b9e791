package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/socket"
)

// subscriber is a connection as the org shell reaches it: its actor and its
// outbox, the only part shared with the connection actor. Where its stream
// stands is the org core's business (orgcore.Sub, whose Conn it is).
type subscriber struct {
	connID string
	org    string
	user   string
	pid    *actor.PID // the connection actor
	out    *socket.Outbox
	enc    messages.Encoding
	// gz is the trailer state of a compressed SSE stream (nil otherwise);
	// see queue.
	gz    *gzipState
	scope messages.Scope
	// presence: the stream asked for presence frames (presence=true).
	presence bool
}

// coreSub is a subscriber as the org core keeps it.
type coreSub = orgcore.Sub[*subscriber]

// subscribers is an org's set of subscribers. It belongs to the org's hub
// entry, not to the org actor, so it survives the actor's restarts: the
// restarted actor's core catches every subscriber up from its position
// instead of dropping it.
type subscribers = orgcore.Subs[*subscriber]

func newSubscribers() *subscribers { return orgcore.NewSubs[*subscriber]() }

// coreSubOf is sub as the core will keep it.
func coreSubOf(sub *subscriber) *coreSub {
	return &coreSub{ID: sub.connID, Org: sub.org, User: sub.user, Enc: sub.enc, Scope: sub.scope, Presence: sub.presence, Conn: sub}
}

// position is where a subscribing client says it is, as its connection
// tells the org actor (orgcore.Position to the core).
type position struct {
	resume bool   // last_seq was given
	last   uint64 // last_seq
	epoch  string // epoch, "" when not given (taken as the current one)
}
