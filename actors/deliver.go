package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/orgstream/orgstream/messages"
)

// deliver queues frame in sub's outbox without blocking: every push the org
// core decides goes through here. kick reports that the outbox was idle and
// must be flushed once the burst is queued (sendKicks). A refused push is overflowed when
// the outbox was full (a slow consumer, cut with 4008 once the core hears
// of it), not when the connection closed the outbox itself (the client
// left, a write failed): its unsubscribe is on the way, and it is neither
// cut nor counted.
func deliver(sub *subscriber, f *messages.Frame) (kick, ok, overflowed bool) {
	kick, ok = sub.pushFrame(f, modeQueue)
	return kick, ok, !ok && sub.out.Overflowed()
}

// cutConn tells sub's connection to close with code (a slow consumer is
// counted there); the core pushes nothing more to it. The connection writes
// the frames already queued before its close frame (conn.sendClose): they
// are in order and the client resumes after them. (A cut by a jump in seqs
// found the event before it queued, its flush deferred behind the jump; an
// overflowed outbox holds nothing.)
func cutConn(ctx actor.Context, sub *subscriber, code uint16, reason string) {
	ctx.Send(sub.pid, &closeConn{code: code, reason: reason})
}
