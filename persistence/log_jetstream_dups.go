package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/orgstream/orgstream/messages"
)

// A batch holding a duplicate ID cannot be one atomic batch: JetStream
// refuses the whole batch (codeBatchDuplicate) without saying which draft.
// appendSplit finds the duplicates first, asking the server's dedup window
// about each ID without storing anything, then stores the new drafts as one
// atomic batch, so that the Append is still all or nothing.

// maxSplitRounds bounds how often appendSplit checks the IDs again because
// one became a duplicate between the check and the batch (another writer
// stored it meanwhile).
const maxSplitRounds = 8

// neverSubjectSeq is an expected last subject sequence no org subject ever
// has: a probe carrying it is refused before anything is stored.
const neverSubjectSeq = "18446744073709551615"

// hdrExpectLastMsgID is JetStream's expected-last-message-ID header.
const hdrExpectLastMsgID = "Nats-Expected-Last-Msg-Id"

// codeWrongLastMsgID is JetStream's refusal of a mismatched expected last
// message ID.
const codeWrongLastMsgID = 10070

// appendSplit stores drafts after `after`, all or nothing, when the atomic
// batch of all of them was refused for a duplicate ID. Duplicates (of an ID
// in the dedup window, or of an earlier draft of the same batch) report the
// first seq; the new drafts get consecutive seqs from after.Seq+1.
func (l *JetStreamLog) appendSplit(ctx context.Context, org string, after Head, drafts []messages.Draft, now time.Time) (Appended, error) {
	n := len(drafts)
	// seen caches the IDs found in the dedup window across rounds: an ID
	// that was a duplicate stays one for this Append (its first seq was
	// right when asked).
	seen := make(map[string]uint64)
	for round := 0; round < maxSplitRounds; round++ {
		if err := l.probeIDs(ctx, org, drafts, seen); err != nil {
			return Appended{}, err
		}
		res := Appended{Seqs: make([]uint64, n), Duplicate: make([]bool, n)}
		firstIn := make(map[string]int) // ID -> its new draft in this batch
		sameAs := make([]int, n)
		var fresh []int
		for i := range drafts {
			sameAs[i] = -1
			if id := drafts[i].ID; id != "" {
				if j, ok := firstIn[id]; ok {
					res.Duplicate[i], sameAs[i] = true, j
					continue
				}
				if seq, dup := seen[id]; dup {
					res.Seqs[i], res.Duplicate[i] = seq, true
					continue
				}
				firstIn[id] = i
			}
			fresh = append(fresh, i)
		}
		stored, err := l.appendFresh(ctx, org, after, drafts, fresh, now)
		if errors.Is(err, errBatchDuplicate) {
			continue // an ID turned duplicate meanwhile: ask again
		}
		if err != nil {
			return Appended{}, err
		}
		if len(stored.Seqs) == 1 && stored.Duplicate[0] {
			// The one new draft turned duplicate meanwhile: nothing stored.
			seen[drafts[fresh[0]].ID] = stored.Seqs[0]
			continue
		}
		for k, i := range fresh {
			res.Seqs[i] = stored.Seqs[k]
		}
		for i, j := range sameAs {
			if j >= 0 {
				res.Seqs[i] = res.Seqs[j]
			}
		}
		res.Events, res.Head = stored.Events, stored.Head
		if len(fresh) == 0 {
			res.Head = after
		}
		return res, nil
	}
	return Appended{}, fmt.Errorf("%w: %s: draft ids kept turning duplicate during the append", ErrConflict, org)
}

// appendFresh stores the drafts at the indexes fresh as one atomic append
// (a single draft reports a duplicate in its result; a batch refused for a
// duplicate is errBatchDuplicate).
func (l *JetStreamLog) appendFresh(ctx context.Context, org string, after Head, drafts []messages.Draft, fresh []int, now time.Time) (Appended, error) {
	switch len(fresh) {
	case 0:
		return Appended{Head: after}, nil
	case 1:
		return l.appendOne(ctx, org, after, drafts[fresh[0]], now)
	}
	sub := make([]messages.Draft, len(fresh))
	for k, i := range fresh {
		sub[k] = drafts[i]
	}
	return l.appendBatch(ctx, org, after, sub, now)
}

// probeIDs adds to seen every ID of drafts (not in it yet) that is in the
// org's dedup window, with the org seq of its first event (0 if that
// already left the log), storing nothing.
//
// The probe that tells the seq is a publish carrying the ID and an expected
// last message ID that never matches: the server checks the ID first, so a
// duplicate is answered with its first message's stream sequence, and a new
// ID is refused (codeWrongLastMsgID). On an R1 stream that is all, one
// message per ID, all sent at once. On a replicated stream the refusal of a
// new ID would come only after a Raft proposal, which keeps the ID staged
// as "in process" for the dedup window (nats-server stages proposed IDs;
// appends with it would be refused as conflicts until then). So there each
// ID is first asked with a one-message atomic batch carrying it and an
// expected last subject sequence that never matches: the leader checks the
// ID before the expectation and before any proposal, answering
// codeBatchDuplicate for a duplicate and a wrong last sequence otherwise;
// only the duplicates get the second probe. An ID that leaves the window in
// the milliseconds between the two probes is the one case left that stages
// a new ID.
func (l *JetStreamLog) probeIDs(ctx context.Context, org string, drafts []messages.Draft, seen map[string]uint64) error {
	var ids []string
	asked := make(map[string]bool)
	for i := range drafts {
		id := drafts[i].ID
		if _, ok := seen[id]; id == "" || ok || asked[id] {
			continue
		}
		asked[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	if l.cfg.Replicas > 1 {
		var err error
		if ids, err = l.probeDupsAtomic(ctx, org, ids); err != nil || len(ids) == 0 {
			return err
		}
	}
	msgs := make([]*nats.Msg, len(ids))
	subj := l.subject(org)
	for i, id := range ids {
		msgs[i] = &nats.Msg{Subject: subj, Header: nats.Header{
			hdrMsgID:           []string{org + ":" + id},
			hdrExpectLastMsgID: []string{nuid.Next()},
		}}
	}
	acks, err := l.requestAll(ctx, msgs)
	if err != nil {
		return err
	}
	for i, ack := range acks {
		switch {
		case ack.Error != nil && ack.Error.ErrCode == codeWrongLastMsgID:
			continue // new
		case ack.Error != nil:
			return classify("probe id", ack.Error)
		case !ack.Duplicate:
			return fmt.Errorf("persistence: probe of id %q in %s was stored at %d", ids[i], org, ack.Seq)
		}
		seq, err := l.dupSeq(ctx, org, ack.Seq, ids[i])
		if err != nil {
			return err
		}
		seen[ids[i]] = seq
	}
	return nil
}

// probeDupsAtomic returns the IDs among ids that are in the org's dedup
// window, asking with one-message atomic batches that store nothing (see
// probeIDs), one at a time: the server sets up every atomic batch, and
// many at once are slower than one after the other.
func (l *JetStreamLog) probeDupsAtomic(ctx context.Context, org string, ids []string) ([]string, error) {
	select {
	case l.batches <- struct{}{}:
		defer func() { <-l.batches }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: probe id: %w", ErrUnavailable, ctx.Err())
	}
	var dups []string
	for _, id := range ids {
		ack, err := l.publishAck(ctx, &nats.Msg{Subject: l.subject(org), Header: nats.Header{
			hdrMsgID:         []string{org + ":" + id},
			hdrExpectSubjSeq: []string{neverSubjectSeq},
			hdrBatchID:       []string{nuid.Next()},
			hdrBatchSeq:      []string{"1"},
			hdrBatchCommit:   []string{"1"},
		}})
		switch {
		case err != nil:
			return nil, err
		case ack.Error == nil:
			return nil, fmt.Errorf("persistence: probe of id %q in %s was stored", id, org)
		case ack.Error.ErrCode == codeWrongLastSeq || ack.Error.ErrCode == codeWrongLastSeqConstant:
		case ack.Error.ErrCode == codeBatchDuplicate:
			dups = append(dups, id)
		default:
			return nil, classify("probe id", ack.Error)
		}
	}
	return dups, nil
}

// requestAll sends msgs, which store nothing (probes), all before awaiting
// any answer, and returns their acknowledgements in order.
func (l *JetStreamLog) requestAll(ctx context.Context, msgs []*nats.Msg) ([]pubAck, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.cfg.RequestTimeout)
		defer cancel()
	}
	inbox := l.nc.NewRespInbox()
	ch := make(chan *nats.Msg, len(msgs))
	sub, err := l.nc.ChanSubscribe(inbox+".*", ch)
	if err != nil {
		return nil, transportErr("probe id", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for i, m := range msgs {
		m.Reply = inbox + "." + strconv.Itoa(i)
		if err := l.nc.PublishMsg(m); err != nil {
			return nil, transportErr("probe id", err)
		}
	}
	acks := make([]pubAck, len(msgs))
	got := make([]bool, len(msgs))
	for n := 0; n < len(msgs); {
		select {
		case r := <-ch:
			i, err := strconv.Atoi(r.Subject[len(inbox)+1:])
			if err != nil || i < 0 || i >= len(msgs) || got[i] {
				continue
			}
			if acks[i], err = decodeAck(r); err != nil {
				return nil, err
			}
			got[i] = true
			n++
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: probe id: %d of %d answers: %w", ErrUnavailable, n, len(msgs), ctx.Err())
		}
	}
	return acks, nil
}
