package persistence

import (
	"errors"
	"strconv"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// Which live messages the follower trusts. orgstream.live.<org> is a plain
// NATS subject: JetStream's RePublish writes each stored event there, but so
// could anyone allowed to publish on it (NATS permissions deny it to every
// role, yet an external cluster may be set up wrong, or a client may hold the
// daemon's credentials). DESIGN.md invariant 1 says clients see only what the
// log stored, so a live message is delivered as it came only when its
// headers show it is the stream's republish of the very next event:
//
//   - Nats-Stream is the events stream and Nats-Subject the org's subject;
//   - Orgstream-Seq is last+1;
//   - Nats-Last-Sequence (the stream sequence of the subject's previous
//     message when this one was stored) is the stream sequence of the last
//     event delivered, and Nats-Sequence is after it.
//
// That costs a few header compares and no read. Any other message for a seq
// not delivered yet is in doubt and checked against the log: the event
// stored at its Nats-Sequence (from a replica, else from the stream leader,
// as a replica may lag) must be this org's event with this seq. If it is,
// the log's copy is delivered, after what the log holds before it; if the
// log holds nothing there, or another event, the message is forged: counted
// (JetStreamConfig.OnForged), logged at Warn with its subject (sampled, never
// the payload), never delivered, and the feed's position does not move. A
// message whose provenance headers are missing or wrong cannot come from
// RePublish and is refused without a read. A forged message may claim any
// seq: since the feed waits for missing events only once the log confirmed
// a later one, a claim of seq 999999 never stalls it.
//
// The stream sequence of the last event is known once one event went
// through the feed: after a start at the head, or a jump, the first live
// message is checked against the log (one Get).
//
// A refused message that was genuine after all (the leader had not applied
// it, or it was deleted right after its republish) is not lost: the feed
// catches up from the log at the idle check after next (1 to 2 followIdle
// later, so that a leader that lags has applied it), and the next live
// message, whose Nats-Last-Sequence then differs, is checked and fills in
// what came before it.
//
// Residual risk: a forger who reads the live subject and publishes on it can
// copy the last event's Nats-Sequence into Nats-Last-Sequence with a larger
// Nats-Sequence and seq last+1, before the real next event arrives; that
// message passes the header check. Only NATS permissions close that door
// (docs/SECURITY.md); the check makes a forgery that does not know the
// stream's state, or arrives after the event it imitates, harmless.

// liveClaim is what a live message's headers claim.
type liveClaim struct {
	seq  uint64 // Orgstream-Seq
	rev  uint64 // Nats-Sequence
	prev uint64 // Nats-Last-Sequence
}

// claimOf reads a live message's provenance; ok is false when it cannot be
// the events stream's republish of an event of this org.
func (f *jsFollower) claimOf(m *nats.Msg) (c liveClaim, ok bool) {
	h := m.Header
	if h.Get(hdrStream) != f.stream || h.Get(hdrSubject) != f.events {
		return c, false
	}
	var err1, err2, err3 error
	c.seq, err1 = strconv.ParseUint(h.Get(HeaderSeq), 10, 64)
	c.rev, err2 = strconv.ParseUint(h.Get(hdrSequence), 10, 64)
	c.prev, err3 = strconv.ParseUint(h.Get(hdrLastSequence), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || c.seq == 0 || c.prev >= c.rev {
		return c, false
	}
	return c, true
}

// onLive handles one live message; false when the feed must end.
func (f *jsFollower) onLive(m *nats.Msg) bool {
	c, settled := f.triage(m)
	if settled {
		return !f.stopped.Load()
	}
	return f.verify(m, c)
}

// triage settles a live message with its headers alone when it can:
// refused, delivered already, or trusted and delivered. Otherwise it is in
// doubt (settled false): verify checks it against the log. triage never
// blocks (but for fn), so the dispatcher runs it inline.
func (f *jsFollower) triage(m *nats.Msg) (c liveClaim, settled bool) {
	c, ok := f.claimOf(m)
	switch {
	case !ok:
		f.refuse(m, "not a republish of the events stream")
		return c, true
	case c.seq <= f.last:
		return c, true // delivered already (from the log, or this is a copy)
	case c.seq == f.last+1 && f.lastRev != 0 && c.prev == f.lastRev:
		if ev, _, err := eventOf(m); err == nil {
			f.deliver(ev, c.rev)
			return c, true
		}
	case f.lastRev != 0 && c.rev <= f.lastRev:
		// A later event has a later stream sequence.
		f.refuse(m, "stream sequence not after the last event's")
		return c, true
	}
	return c, false
}

// verify checks a live message in doubt against the log and delivers the
// log's copy, after what the log holds before it; false when the feed must
// end.
func (f *jsFollower) verify(m *nats.Msg, c liveClaim) bool {
	ev, held, ok := f.stored(c)
	if !ok {
		return false
	}
	if !held {
		f.refuse(m, "not in the log")
		f.recheck.Store(true)
		return true
	}
	if c.seq > f.last+1 && !f.fill(c.seq-1) {
		return false
	}
	if c.seq != f.last+1 {
		return true // delivered from the log by fill, or jumped over
	}
	return f.deliver(ev, c.rev)
}

// stored reads the event the log holds at the claim's stream sequence:
// held is true when it is this org's event with the claimed seq. It retries
// with backoff while the store is unavailable; ok is false when the feed
// must end.
func (f *jsFollower) stored(c liveClaim) (ev messages.Event, held, ok bool) {
	backoff := followBackoffMin
	for {
		if f.stopped.Load() {
			return ev, false, false
		}
		ev, found, err := f.l.eventAt(f.ctx, f.org, c.rev)
		switch {
		case err == nil:
			return ev, found && ev.Seq == c.seq, true
		case !errors.Is(err, ErrUnavailable):
			// Not an event of ours (a message stored on the org's subject
			// without our headers): nothing to deliver.
			return ev, false, true
		case f.l.isClosed():
			return ev, false, false
		}
		f.l.lg.Debug("follower check failed, retrying", zap.String("org", f.org), zap.Error(err))
		if !f.sleep(backoff) {
			return ev, false, false
		}
		backoff = min(2*backoff, followBackoffMax)
	}
}

// refuse reports a forged live message.
func (f *jsFollower) refuse(m *nats.Msg, why string) {
	f.l.forged(f.org, m.Subject, why)
}

// forged counts a refused live message and logs it, sampled.
func (l *JetStreamLog) forged(org, subject, why string) {
	if l.cfg.OnForged != nil {
		l.cfg.OnForged(org)
	}
	l.forgedLog.Warn("forged live message refused: not delivered",
		zap.String("subject", subject), zap.String("reason", why))
}
