package persistence

import (
	"context"
	"errors"
	"fmt"
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
		res := Appended{Seqs: make([]uint64, n), Duplicate: make([]bool, n)}
		firstIn := make(map[string]int) // ID -> its new draft in this batch
		sameAs := make([]int, n)
		var fresh []int
		for i := range drafts {
			sameAs[i] = -1
			id := drafts[i].ID
			if id != "" {
				if j, ok := firstIn[id]; ok {
					res.Duplicate[i], sameAs[i] = true, j
					continue
				}
				seq, dup := seen[id]
				if !dup {
					var err error
					if seq, dup, err = l.probeID(ctx, org, id); err != nil {
						return Appended{}, err
					}
					if dup {
						seen[id] = seq
					}
				}
				if dup {
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

// probeID tells whether id is in the org's dedup window and, if so, the org
// seq of its first event (0 if that already left the log), storing nothing.
//
// First a one-message atomic batch carrying the ID and an expected last
// subject sequence that never matches: the server checks the ID before the
// expectation (on R1 and replicated streams alike, before any proposal), so
// it answers codeBatchDuplicate for a duplicate and a wrong last sequence
// otherwise. Then, for a duplicate, a publish carrying the ID and an
// expected last message ID that never matches: it is answered with the
// first message's stream sequence (dedup comes first), or, should the ID
// have left the window in between, refused (codeWrongLastMsgID). On a
// replicated stream that refusal comes after a Raft proposal, which may keep
// the ID as "in process" (codeDupInProcess, a conflict) for the dedup
// window (nats-server stages proposed IDs): appends with it would be refused
// until then. This needs an ID that
// leaves the window within the milliseconds between the two probes; the
// first probe never proposes anything.
func (l *JetStreamLog) probeID(ctx context.Context, org, id string) (uint64, bool, error) {
	msgID := org + ":" + id
	ack, err := l.probeBatch(ctx, &nats.Msg{
		Subject: EventsPrefix + org,
		Header: nats.Header{
			hdrMsgID:         []string{msgID},
			hdrExpectSubjSeq: []string{neverSubjectSeq},
			hdrBatchID:       []string{nuid.Next()},
			hdrBatchSeq:      []string{"1"},
			hdrBatchCommit:   []string{"1"},
		},
	})
	if err != nil {
		return 0, false, err
	}
	switch {
	case ack.Error == nil:
		return 0, false, fmt.Errorf("persistence: probe of id %q in %s was stored", id, org)
	case ack.Error.ErrCode == codeWrongLastSeq || ack.Error.ErrCode == codeWrongLastSeqConstant:
		return 0, false, nil
	case ack.Error.ErrCode != codeBatchDuplicate:
		return 0, false, classify("probe id", ack.Error)
	}
	ack, err = l.publishAck(ctx, &nats.Msg{
		Subject: EventsPrefix + org,
		Header: nats.Header{
			hdrMsgID:           []string{msgID},
			hdrExpectLastMsgID: []string{nuid.Next()},
		},
	})
	switch {
	case err != nil:
		return 0, false, err
	case ack.Error != nil && ack.Error.ErrCode == codeWrongLastMsgID:
		return 0, false, nil
	case ack.Error != nil:
		return 0, false, classify("probe id", ack.Error)
	case !ack.Duplicate:
		return 0, false, fmt.Errorf("persistence: probe of id %q in %s was stored at %d", id, org, ack.Seq)
	}
	seq, err := l.orgSeqAt(ctx, org, ack.Seq)
	if err != nil {
		return 0, false, err
	}
	return seq, true, nil
}

// probeBatch sends a one-message atomic batch within the limit of batches
// in flight.
func (l *JetStreamLog) probeBatch(ctx context.Context, m *nats.Msg) (pubAck, error) {
	select {
	case l.batches <- struct{}{}:
		defer func() { <-l.batches }()
	case <-ctx.Done():
		return pubAck{}, fmt.Errorf("%w: probe id: %w", ErrUnavailable, ctx.Err())
	}
	return l.publishAck(ctx, m)
}
