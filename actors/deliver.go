package actors

import "github.com/asynkron/protoactor-go/actor"

// deliver queues frame in sub's outbox without blocking: every push the org
// core decides goes through here. kick reports that the outbox was idle and
// its connection must be told to flush. A refused push is overflowed when
// the outbox was full (a slow consumer, cut with 4008 once the core hears
// of it), not when the connection closed the outbox itself (the client
// left, a write failed): its unsubscribe is on the way, and it is neither
// cut nor counted.
func deliver(sub *subscriber, frame []byte) (kick, ok, overflowed bool) {
	kick, ok = sub.out.push(frame)
	return kick, ok, !ok && sub.out.hasOverflowed()
}

// cutConn closes sub's outbox, so nothing more is queued for it, and tells
// its connection to close with code (a slow consumer is counted there).
func cutConn(ctx actor.Context, sub *subscriber, code uint16, reason string) {
	sub.out.close()
	ctx.Send(sub.pid, &closeConn{code: code, reason: reason})
}
