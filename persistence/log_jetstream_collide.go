package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/orgstream/orgstream/messages"
)

// Collisions: an org seq stored twice on a replicated stream.
//
// An append expects the org's subject to end at after.Rev
// (Nats-Expected-Last-Subject-Sequence). nats-server (2.15.2) checks that on
// the stream leader before it proposes the message, and the check is not
// authoritative across a leader change (nats-io/nats-server#8469): around
// one, two writers with the same head can both be stored, the second with a
// stale expectation. Both then carry the same Orgstream-Seq; followers
// deliver the first and drop the second as "seq <= last"
// (log_jetstream_live.go), so an acknowledged event would never be
// delivered. The soak test saw it once (a leader's disk filled up as two
// nodes appended).
//
// Detect: on a replicated stream every append, after its PubAck, reads the
// first message of the org's subject after after.Rev (one Direct Get; the
// stream leader when that replica has not stored the message yet). It must
// be the message just stored (the first of an atomic batch); another one
// there means a collision. R1 streams skip the check: one server checks
// and stores. Cost (BenchmarkAppendR3, three embedded servers on one
// loaded 2-core machine): about 410 µs per append without the check, 590 to
// 720 µs with it.
//
// Repair: the events of the append whose seqs are taken by the messages
// stored in between (all of a single event; of an atomic batch, those up to
// the highest seq in between: followers deliver its later events where
// they are) are appended again after the org's fresh head, with new seqs
// and derived message IDs "<org>#k:<id>" (k = 2…maxCopies; an event without
// an ID gets "<org>#k:" and a nuid). Org names never hold '#', so a derived
// ID is never a publisher's. The Append answers the copies' seqs, those
// that followers deliver (for a batch, the copies come after its events
// that stayed, so its seqs are no longer in draft order).
//
// The collided messages (orphans) stay in the stream: followers and Read
// never deliver them (their seqs are not after the last delivered one),
// and deleting them would leave a later retry of their IDs a dedup entry
// that points at nothing, which reads as "evicted" (seq 0): the retry could
// no longer be resolved to the copy.
//
// A retry of the same ID inside the dedup window gets JetStream's duplicate
// answer naming the orphan; dupSeq checks the place of the message it names
// the same way (from the expectation header stored with it, or with its
// batch's first message) and, when it collided, appends the copy with the
// next derived ID. Derived IDs are deterministic, so when the copy exists
// already (the usual case) the dedup answers with it, nothing new is
// stored, and the retry gets the copy's seq; when the process died between
// the collision and the copy, that retry stores the copy. That was chosen
// over ErrOutcomeUnknown, which would make the publisher retry forever:
// nothing else would ever store the event.
//
// Residual: the messages in between and the fresh head are read from a
// replica's batch read, so a replica lagging behind them could make the
// copy collide again (it is checked, and copied again, up to maxCopies).
// An orphan is found only by its own append or a retry of its ID: an event
// without an ID whose process died before the copy stays lost (it was never
// acknowledged), and a head
// read while an orphan is the org's last message carries its stale seq
// until the copy is stored.

// maxCopies bounds the derived IDs of one event: "#2"…"#maxCopies".
const maxCopies = 5

// maxReappendConflicts bounds how often a copy is tried again because
// another writer moved the head between its read and the copy's publish.
const maxReappendConflicts = 8

// copyMsgID is the Nats-Msg-Id of copy k of the event of id in org.
func copyMsgID(org, id string, k int) string {
	if id == "" {
		id = nuid.Next()
	}
	return org + "#" + strconv.Itoa(k) + ":" + id
}

// copyOf is k of a stored message's derived ID, 1 for an original.
func copyOf(m *nats.Msg) int {
	id := m.Header.Get(hdrMsgID)
	i, j := strings.IndexByte(id, '#'), strings.IndexByte(id, ':')
	if i < 0 || j < i {
		return 1
	}
	k, err := strconv.Atoi(id[i+1 : j])
	if err != nil || k < 2 {
		return 1
	}
	return k
}

// firstRevAfter is the stream sequence of the first message of org's
// subject after afterRev, 0 when there is none, asked of a replica and, when
// that replica has not stored rev yet (a message the leader acknowledged),
// of the leader.
func (l *JetStreamLog) firstRevAfter(ctx context.Context, org string, afterRev, rev uint64) (uint64, error) {
	body := make([]byte, 0, 96)
	body = append(body, `{"seq":`...)
	body = strconv.AppendUint(body, afterRev+1, 10)
	pt := l.part(org)
	body = append(body, `,"next_by_subj":"`...)
	body = append(body, pt.events...)
	body = append(body, org...)
	body = append(body, `"}`...)
	m, ok, err := l.directGet(ctx, pt.gets.direct, "", body)
	if err != nil {
		return 0, err
	}
	first := revOf(m, ok)
	if first == 0 || first > rev {
		if m, ok, err = l.leaderGet(ctx, pt.gets.leader, body); err != nil {
			return 0, err
		}
		first = revOf(m, ok)
	}
	return first, nil
}

// collisionTop is 0 when the message stored at stream sequence first (one
// event, or the first of an atomic batch), which expected org's subject to
// end at afterRev, is the first message of the subject after afterRev (the
// check of every append on a replicated stream: one Direct Get). Otherwise
// it is the highest seq among the messages stored in between: the events
// of this append up to that seq collided (followers drop them), those after
// it are delivered where they are.
func (l *JetStreamLog) collisionTop(ctx context.Context, org string, afterRev, first uint64) (uint64, error) {
	between, err := l.firstRevAfter(ctx, org, afterRev, first)
	if err != nil || between == 0 || between >= first {
		return 0, err
	}
	var top uint64
	_, _, _, _, err = l.directBatch(ctx, l.part(org), org, between, int(min(first-between, directBatchMax)), func(ev messages.Event, rev uint64) bool {
		if rev < first {
			top = max(top, ev.Seq)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if top == 0 {
		// A lagging replica showed nothing in between: take every event
		// of the append as collided (copied, none lost).
		top = ^uint64(0)
	}
	return top, nil
}

// collidedCount is how many of evs (consecutive seqs) collided with events
// up to seq top.
func collidedCount(top uint64, evs []messages.Event) int {
	if top < evs[0].Seq {
		return 0
	}
	return int(min(top-evs[0].Seq+1, uint64(len(evs))))
}

// revOf is the stream sequence of a got message, 0 when there is none.
func revOf(m *nats.Msg, ok bool) uint64 {
	if !ok {
		return 0
	}
	rev, _ := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	return rev
}

// placedSeq is the seq of the event m stored at rev (of org, its ID
// checked by the caller) that subscribers see: its own when it did not
// collide or its place cannot be checked, else the seq of its copy,
// appended now with the next derived ID when it is not stored yet.
func (l *JetStreamLog) placedSeq(ctx context.Context, org string, m *nats.Msg, ev messages.Event, rev uint64) (uint64, error) {
	if !l.checkPlace {
		return ev.Seq, nil
	}
	first, head := rev, m
	if b := m.Header.Get(hdrBatchSeq); b != "" {
		i, err := strconv.ParseUint(b, 10, 64)
		if err != nil || i == 0 || i > rev {
			return ev.Seq, nil
		}
		if first = rev - (i - 1); first != rev {
			var ok bool
			if head, ok, err = l.msgAt(ctx, l.part(org), first); err != nil {
				return 0, fmt.Errorf("%w: %s: the place of %d unchecked: %w", ErrOutcomeUnknown, org, rev, err)
			} else if !ok {
				return ev.Seq, nil
			}
		}
	}
	afterRev, err := strconv.ParseUint(head.Header.Get(hdrExpectSubjSeq), 10, 64)
	if err != nil {
		return ev.Seq, nil // no expectation: nothing to check against
	}
	top, err := l.collisionTop(ctx, org, afterRev, first)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: the place of %d unchecked: %w", ErrOutcomeUnknown, org, rev, err)
	}
	if ev.Seq > top {
		return ev.Seq, nil
	}
	res, err := l.reappend(ctx, org, []messages.Event{ev}, afterRev+1, copyOf(m)+1)
	if err != nil {
		return 0, err
	}
	return res.Seqs[0], nil
}

// repair answers an append whose events evs[:k] collided (the rest, if a
// batch, are delivered where they are; last is the stream sequence of the
// last): those are appended again, as copy k, after the org's fresh head.
func (l *JetStreamLog) repair(ctx context.Context, org string, from, last uint64, evs []messages.Event, k, copyN int) (Appended, error) {
	copies, err := l.reappend(ctx, org, evs[:k], from, copyN)
	if err != nil {
		return Appended{}, err
	}
	n := len(evs)
	res := Appended{
		Head:      copies.Head,
		Seqs:      append(copies.Seqs, make([]uint64, n-k)...),
		Duplicate: append(copies.Duplicate, make([]bool, n-k)...),
		Events:    append(slices.Clone(evs[k:]), copies.Events...),
	}
	for i := k; i < n; i++ {
		res.Seqs[i] = evs[i].Seq
	}
	if res.Head.Seq < evs[n-1].Seq {
		res.Head = Head{Seq: evs[n-1].Seq, Rev: last}
	}
	return res, nil
}

// reappend stores evs, collided events whose messages lie after stream
// sequence from, again as copy k after the org's fresh head.
func (l *JetStreamLog) reappend(ctx context.Context, org string, evs []messages.Event, from uint64, k int) (Appended, error) {
	if k > maxCopies {
		return Appended{}, fmt.Errorf("%w: %s: %d copies of event %d collided", ErrOutcomeUnknown, org, maxCopies, evs[0].Seq)
	}
	var err error
	for range maxReappendConflicts {
		var head Head
		if head, err = l.freshHead(ctx, org, from); err != nil {
			return Appended{}, err
		}
		copies := make([]messages.Event, len(evs))
		for i, ev := range evs {
			ev.Seq = head.Seq + uint64(i) + 1
			copies[i] = ev
		}
		var res Appended
		res, err = l.storeEvents(ctx, org, head, copies, k)
		if errors.Is(err, ErrConflict) {
			continue // another writer moved the head meanwhile
		}
		if err != nil {
			return Appended{}, err
		}
		return res, nil
	}
	return Appended{}, fmt.Errorf("%w: re-append of collided events: %w", ErrOutcomeUnknown, err)
}

// freshHead is org's head for a copy: the stream leader's last message of
// the subject, with the highest seq stored from stream sequence from on
// (the orphan, last, carries a stale one).
func (l *JetStreamLog) freshHead(ctx context.Context, org string, from uint64) (Head, error) {
	seq, rev, err := l.lastEvent(ctx, org, true)
	if err != nil {
		return Head{}, err
	}
	_, _, _, _, err = l.directBatch(ctx, l.part(org), org, from, directBatchMax, func(ev messages.Event, _ uint64) bool {
		seq = max(seq, ev.Seq)
		return true
	})
	if err != nil {
		return Head{}, err
	}
	return Head{Seq: seq, Rev: rev}, nil
}
