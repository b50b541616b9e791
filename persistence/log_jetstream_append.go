package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/orgstream/orgstream/messages"
)

// errBatchDuplicate: the atomic batch was refused because a draft ID is a
// duplicate; Append then finds the duplicates and stores the rest as one
// atomic batch (log_jetstream_dups.go).
var errBatchDuplicate = errors.New("persistence: batch holds a duplicate id")

// Append implements Log.
//
// One draft is one publish with Nats-Expected-Last-Subject-Sequence =
// after.Rev (a mismatch is ErrConflict) and, with an ID, Nats-Msg-Id
// "<org>:<id>" (JetStream answers a duplicate with the first message's
// stream sequence; its org seq is read back, 0 if that message already left
// the log, e.g. evicted by MaxEventsPerOrg inside the dedup window). Several
// drafts are one atomic batch (consecutive stream and org seqs, all or
// nothing); a batch refused for a duplicate ID is stored draft by draft with
// chained expectations. With after.Rev 0 (nothing retained) the org's head
// marker must still hold after.Seq, otherwise ErrConflict.
//
// On a replicated stream each append then checks its message's place: one
// stored after a stale head across a leader change (the server's
// expectation check is not authoritative then) is appended again after the
// fresh head, and the Append answers the copy's seq (log_jetstream_collide.go).
//
// The PubAck is awaited: a returned seq is durable (fsync per JetStream's
// sync settings; on R3 replicated to a quorum). The head marker is written
// after it without waiting (log_jetstream_head.go).
func (l *JetStreamLog) Append(ctx context.Context, org string, after Head, drafts []messages.Draft) (Appended, error) {
	if err := l.check(org); err != nil {
		return Appended{}, err
	}
	switch {
	case len(drafts) == 0:
		return Appended{Head: after}, nil
	case len(drafts) > MaxBatch:
		return Appended{}, fmt.Errorf("%w: %d drafts, at most %d", ErrBatchTooLarge, len(drafts), MaxBatch)
	}
	if err := l.checkSizes(org, drafts); err != nil {
		return Appended{}, err
	}
	if after.Rev == 0 {
		if err := l.checkMarker(ctx, org, after.Seq); err != nil {
			l.noteConflict(org, err)
			return Appended{}, err
		}
	}
	now := time.Now().UTC()
	var (
		res Appended
		err error
	)
	if len(drafts) == 1 {
		res, err = l.appendOne(ctx, org, after, drafts[0], now)
	} else {
		res, err = l.appendBatch(ctx, org, after, drafts, now)
		if errors.Is(err, errBatchDuplicate) {
			res, err = l.appendSplit(ctx, org, after, drafts, now)
		}
	}
	if err != nil {
		l.noteConflict(org, err)
		return Appended{}, err
	}
	if res.Head.Rev != after.Rev {
		l.markers.write(org, res.Head.Seq)
	}
	return res, nil
}

// noteConflict makes the next Head of org read from the stream leaders when
// err is a conflict (see JetStreamLog.conflicted).
func (l *JetStreamLog) noteConflict(org string, err error) {
	if errors.Is(err, ErrConflict) {
		l.conflicted.Store(org, struct{}{})
	}
}

// headerRoom bounds the bytes a stored event adds to its draft's Data, ID
// and Topic (header names, seq, time, batch headers).
const headerRoom = 512

// checkSizes refuses, before anything is sent, a draft the server would
// refuse for its max payload (a refusal in the middle of a batch would leave
// the server holding the batch's first part until it times out).
func (l *JetStreamLog) checkSizes(org string, drafts []messages.Draft) error {
	limit := l.nc.MaxPayload()
	for i := range drafts {
		d := &drafts[i]
		n := int64(len(d.Data) + len(d.Topic) + 2*len(d.ID) + len(org) + headerRoom)
		if len(d.To) > 0 {
			n += int64(toHeaderLen(d.To))
		}
		if n > limit {
			return fmt.Errorf("%w: draft %d: %d bytes exceed the NATS max payload of %d", ErrTooLarge, i, n, limit)
		}
	}
	return nil
}

// checkMarker guards an append on an org with nothing retained: expecting
// "no message on the subject" alone would also pass after another writer's
// events came and aged out; the marker tells. It asks the heads stream's
// leader: a lagging replica could show an older marker that still matches.
func (l *JetStreamLog) checkMarker(ctx context.Context, org string, seq uint64) error {
	mark, err := l.markerSeq(ctx, org, true)
	if err != nil {
		return err
	}
	if mark != seq {
		return fmt.Errorf("%w: %s: head is at %d, not %d", ErrConflict, org, mark, seq)
	}
	return nil
}

func newEvent(seq uint64, d *messages.Draft, now time.Time) messages.Event {
	return messages.Event{Seq: seq, Topic: d.Topic, ID: d.ID, Time: now, Data: d.Data, To: d.To}
}

// appendOne publishes one draft after `after`.
func (l *JetStreamLog) appendOne(ctx context.Context, org string, after Head, d messages.Draft, now time.Time) (Appended, error) {
	return l.storeEvents(ctx, org, after, []messages.Event{newEvent(after.Seq+1, &d, now)}, 0)
}

// appendBatch publishes drafts as one JetStream atomic batch: staged by the
// server, checked at the commit (expected last subject sequence on the first
// message, dedup on every one) and stored consecutively, or not at all.
func (l *JetStreamLog) appendBatch(ctx context.Context, org string, after Head, drafts []messages.Draft, now time.Time) (Appended, error) {
	evs := make([]messages.Event, len(drafts))
	for i := range drafts {
		evs[i] = newEvent(after.Seq+uint64(i)+1, &drafts[i], now)
	}
	return l.storeEvents(ctx, org, after, evs, 0)
}

// storeEvents publishes evs (seqs after.Seq+1…) after `after`: one event as
// one publish, several as one atomic batch. copyN 0 is an append; copyN >= 2
// stores the copies of collided events under derived message IDs
// (log_jetstream_collide.go). On a replicated stream the stored message's
// place is checked, and a collision re-appended.
func (l *JetStreamLog) storeEvents(ctx context.Context, org string, after Head, evs []messages.Event, copyN int) (Appended, error) {
	n := len(evs)
	ack, err := l.publishEvents(ctx, org, after, evs, copyN)
	if err != nil {
		return Appended{}, err
	}
	if n == 1 && ack.Duplicate {
		seq, err := l.dupSeq(ctx, org, ack.Seq, evs[0].ID)
		if err != nil {
			return Appended{}, err
		}
		return Appended{Head: after, Seqs: []uint64{seq}, Duplicate: []bool{true}}, nil
	}
	if ack.Count != 0 && ack.Count != uint64(n) {
		return Appended{}, fmt.Errorf("persistence: append batch: %d of %d drafts acknowledged", ack.Count, n)
	}
	if l.checkPlace {
		first := ack.Seq - uint64(n-1) // an atomic batch is stored consecutively
		top, err := l.collisionTop(ctx, org, after.Rev, first)
		if err != nil {
			return Appended{}, fmt.Errorf("%w: %s: stored at %d, its place unchecked: %w", ErrOutcomeUnknown, org, first, err)
		}
		if k := collidedCount(top, evs); k > 0 {
			return l.repair(ctx, org, after.Rev+1, ack.Seq, evs, k, max(copyN+1, 2))
		}
	}
	res := Appended{
		Head:      Head{Seq: evs[n-1].Seq, Rev: ack.Seq},
		Seqs:      make([]uint64, n),
		Duplicate: make([]bool, n),
		Events:    evs,
	}
	for i := range evs {
		res.Seqs[i] = evs[i].Seq
	}
	return res, nil
}

// publishEvents publishes evs after `after` (see storeEvents) and returns
// the PubAck of the one event or of the batch's commit. A batch holds one
// of the node's atomic batch slots only while it is sent.
func (l *JetStreamLog) publishEvents(ctx context.Context, org string, after Head, evs []messages.Event, copyN int) (pubAck, error) {
	n := len(evs)
	batch := ""
	if n > 1 {
		select {
		case l.batches <- struct{}{}:
			defer func() { <-l.batches }()
		case <-ctx.Done():
			return pubAck{}, fmt.Errorf("%w: append: %w", ErrUnavailable, ctx.Err())
		}
		batch = nuid.Next()
	}
	var ack pubAck
	subj := l.subject(org)
	for i := range evs {
		m := eventMsg(subj, org, &evs[i])
		if copyN > 0 {
			m.Header[hdrMsgID] = []string{copyMsgID(org, evs[i].ID, copyN)}
		}
		if i == 0 {
			m.Header[hdrExpectSubjSeq] = []string{strconv.FormatUint(after.Rev, 10)}
			if l.expectSeam != nil {
				l.expectSeam(m)
			}
		}
		if batch != "" {
			m.Header[hdrBatchID] = []string{batch}
			m.Header[hdrBatchSeq] = []string{strconv.Itoa(i + 1)}
			if i < n-1 {
				if err := l.nc.PublishMsg(m); err != nil {
					return pubAck{}, transportErr("append batch", err)
				}
				continue
			}
			m.Header[hdrBatchCommit] = []string{"1"}
		}
		var err error
		if ack, err = l.publish(ctx, m); err != nil {
			return pubAck{}, err
		}
	}
	return ack, nil
}

// publish sends m, an append, and decodes the PubAck; a refusal is an
// error, and so is a missing answer (ErrOutcomeUnknown once sent).
func (l *JetStreamLog) publish(ctx context.Context, m *nats.Msg) (pubAck, error) {
	if err := ctx.Err(); err != nil {
		return pubAck{}, fmt.Errorf("%w: append: %w", ErrUnavailable, err) // nothing sent
	}
	resp, err := request(ctx, l.nc, m, l.cfg.RequestTimeout)
	if err != nil {
		return pubAck{}, appendErr("append", err)
	}
	ack, err := decodeAck(resp)
	if err != nil {
		return ack, err
	}
	if ack.Error != nil {
		if ack.Error.ErrCode == codeBatchDuplicate {
			return ack, errBatchDuplicate
		}
		return ack, classify("append", ack.Error)
	}
	return ack, nil
}

// publishAck sends m, which stores nothing (a probe), and decodes the
// PubAck, a refusal (ack.Error) included.
func (l *JetStreamLog) publishAck(ctx context.Context, m *nats.Msg) (pubAck, error) {
	resp, err := request(ctx, l.nc, m, l.cfg.RequestTimeout)
	if err != nil {
		return pubAck{}, transportErr("probe", err)
	}
	return decodeAck(resp)
}

// decodeAck decodes a PubAck, a refusal (ack.Error) included.
func decodeAck(resp *nats.Msg) (pubAck, error) {
	var ack pubAck
	if st := status(resp); st != "" {
		return ack, fmt.Errorf("%w: append: status %s %s", ErrUnavailable, st, resp.Header.Get(hdrDescription))
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return ack, fmt.Errorf("%w: append: bad acknowledgement: %w", ErrUnavailable, err)
	}
	return ack, nil
}
