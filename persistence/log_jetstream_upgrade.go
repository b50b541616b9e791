package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// The upgrade of a store written before partitions: its events are in the
// one stream ORGSTREAM (subjects orgstream.events.<org>). Under the open
// lock, for each org, the events it retains are copied, in stream order,
// to the org's subject in its partition, each with every header it was
// stored with (Orgstream-Seq, -Time, -Topic, -Id, -To, and Nats-Msg-Id, so
// that a publish retried across the upgrade is still answered as a
// duplicate), by compare-and-set on the partition's last message of the
// org, and only when its seq is above the last seq already there. So a node
// that died mid-way, or two nodes upgrading at once (an expired lock), never
// duplicate or reorder an event: the second finds it copied and goes on.
// Then the org's subject is purged from the legacy stream up to the last
// message seen, and once no org subject is left the legacy stream is
// deleted. The head markers are in ORGSTREAM_HEADS already and stay.
//
// Reads of the legacy stream are Message Gets, which only its leader
// answers: a lagging replica must not hide an event before its subject is
// purged. A copied event's MaxAge starts again at the copy (JetStream ages
// messages by their stored time), so events may stay readable up to one
// retention longer than they would have. The upgrade needs every node
// stopped first: a node of the previous version still writes the legacy
// stream.

// legacyPart names the legacy stream like a partition.
var legacyPart = namedPartition(-1, StreamName, EventsPrefix)

// upgrade moves every org's events from the legacy stream into the
// partitions and deletes it when no org subject is left.
func (l *JetStreamLog) upgrade(ctx context.Context, js jetstream.JetStream, lk *openLock) error {
	// Each request below takes RequestTimeout at most (its context has no
	// deadline: request, and jetstream's default timeout), not what is left
	// of the open's time: the lock would expire meanwhile. The end of the
	// open's context is checked between orgs.
	open := ctx
	ctx = context.WithoutCancel(ctx)
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		return fmt.Errorf("persistence: upgrade: stream %s: %w", StreamName, err)
	}
	orgs, err := legacyOrgs(ctx, s)
	if err != nil {
		return err
	}
	moved, skipped := 0, 0
	for _, org := range orgs {
		if err := open.Err(); err != nil {
			return fmt.Errorf("%w: upgrade: %w", ErrUnavailable, err)
		}
		if !messages.ValidOrg(org) {
			skipped++
			l.lg.Warn("upgrade: the legacy stream has a subject of no valid org; it stays",
				zap.String("subject", EventsPrefix+org))
			continue
		}
		n, err := l.upgradeOrg(ctx, s, org, lk)
		if err != nil {
			return err
		}
		moved += n
	}
	l.lg.Info("upgrade: moved the legacy stream's events into the partitions",
		zap.Int("orgs", len(orgs)-skipped), zap.Int("events", moved), zap.Int("partitions", len(l.parts)))
	if skipped > 0 {
		return nil
	}
	if left, err := legacyOrgs(ctx, s); err != nil || len(left) > 0 {
		return err
	}
	if err := js.DeleteStream(ctx, StreamName); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("persistence: upgrade: delete stream %s: %w", StreamName, err)
	}
	return nil
}

// legacyOrgs lists the orgs with events in the legacy stream, sorted.
func legacyOrgs(ctx context.Context, s jetstream.Stream) ([]string, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(EventsPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("persistence: upgrade: stream %s info: %w", StreamName, err)
	}
	orgs := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		orgs = append(orgs, strings.TrimPrefix(subj, EventsPrefix))
	}
	slices.Sort(orgs)
	return orgs, nil
}

// upgradeOrg copies org's events from the legacy stream into its partition
// and purges what it saw; n is how many it copied.
func (l *JetStreamLog) upgradeOrg(ctx context.Context, s jetstream.Stream, org string, lk *openLock) (n int, err error) {
	pt := l.part(org)
	dst := pt.events + org
	lastSeq, lastRev, err := l.partitionLast(ctx, pt, org)
	if err != nil {
		return 0, err
	}
	var seen uint64 // the legacy stream sequence of the last message handled
	withID := true  // false for a message whose id the partition already has
	for {
		if err := lk.renew(ctx); err != nil {
			return n, err
		}
		m, ok, err := l.leaderGet(ctx, legacyPart.gets.leader, legacyNext(org, seen+1))
		if err != nil {
			return n, fmt.Errorf("persistence: upgrade %s: %w", org, err)
		}
		if !ok {
			break
		}
		ev, rev, err := eventOf(m)
		if err != nil {
			return n, fmt.Errorf("persistence: upgrade %s: %w", org, err)
		}
		if ev.Seq <= lastSeq {
			seen = rev // copied already, or a collided message's orphan
			continue
		}
		ack, err := l.publishAck(ctx, upgradeMsg(dst, m, lastRev, withID))
		if err == nil && ack.Error != nil {
			err = classify("upgrade copy", ack.Error)
		}
		switch {
		case err == nil && !ack.Duplicate:
			lastSeq, lastRev, seen, withID = ev.Seq, ack.Seq, rev, true
			n++
		case err == nil || errors.Is(err, ErrConflict):
			// Another node copied it (a duplicate id, or a moved last
			// message): read where the partition is and go on from there.
			if lastSeq, lastRev, err = l.partitionLast(ctx, pt, org); err != nil {
				return n, err
			}
			if ack.Duplicate && lastSeq < ev.Seq {
				// Not copied: an earlier event of the org had the same id
				// (stored twice, further apart than the dedup window).
				// The event must not be lost; it goes without its id.
				withID = false
			}
		default:
			return n, fmt.Errorf("persistence: upgrade %s: %w", org, err)
		}
	}
	if seen == 0 {
		return n, nil
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(EventsPrefix+org), jetstream.WithPurgeSequence(seen+1)); err != nil {
		return n, fmt.Errorf("persistence: upgrade %s: purge: %w", org, err)
	}
	return n, nil
}

// partitionLast is org's last event in its partition, from the leader.
func (l *JetStreamLog) partitionLast(ctx context.Context, pt *partition, org string) (seq, rev uint64, err error) {
	m, ok, err := l.leaderLast(ctx, pt.gets.leader, pt.events+org)
	if err != nil || !ok {
		return 0, 0, err
	}
	ev, rev, err := eventOf(m)
	if err != nil {
		return 0, 0, fmt.Errorf("persistence: upgrade %s: %w", org, err)
	}
	return ev.Seq, rev, nil
}

// legacyNext is the Message Get body of org's first legacy message at
// stream sequence >= from.
func legacyNext(org string, from uint64) []byte {
	body := strconv.AppendUint([]byte(`{"seq":`), from, 10)
	body = append(body, `,"next_by_subj":"`...)
	body = append(body, EventsPrefix...)
	body = append(body, org...)
	return append(body, `"}`...)
}

// upgradeMsg is the copy of the stored legacy message m on subject dst: its
// orgstream headers and (withID) its Nats-Msg-Id, expecting the subject's
// last message at stream sequence expect.
func upgradeMsg(dst string, m *nats.Msg, expect uint64, withID bool) *nats.Msg {
	h := make(nats.Header, len(m.Header))
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Orgstream-") || (withID && k == hdrMsgID) {
			h[k] = v
		}
	}
	h[hdrExpectSubjSeq] = []string{strconv.FormatUint(expect, 10)}
	return &nats.Msg{Subject: dst, Header: h, Data: m.Data}
}
