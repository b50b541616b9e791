package persistence

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"
)

// The open lock serializes the first open of a store and its upgrade
// (log_jetstream_open.go) between the nodes of a cluster. It is one message
// in the heads stream, on a subject no org has (org ids have no '~'),
// written by compare-and-set (Nats-Expected-Last-Subject-Sequence), so at
// most one node holds it: its Orgstream-Lock-Until header says until when.
// A holder that dies (kill -9 mid-upgrade) leaves a lock that expires after
// openLockTTL; every step it did is safe to do again (the upgrade copies an
// event only after the partition's last one, by compare-and-set). The
// holder renews it while it works and releases it at the end. Clocks of the
// nodes must agree within the TTL; if they do not, two nodes may upgrade at
// once, which the per-event compare-and-set still makes safe.

const (
	// openLockSubject is the lock's subject in the heads stream.
	openLockSubject = HeadsPrefix + "~open"
	// openLockTTL is how long a lock holds without renewal.
	openLockTTL = 30 * time.Second
	// hdrLockUntil is the lock's expiry (RFC 3339); a past one is free.
	hdrLockUntil = "Orgstream-Lock-Until"
	// hdrLockOwner names the holder, for operators.
	hdrLockOwner = "Orgstream-Lock-Owner"
)

// openLock is a held open lock.
type openLock struct {
	l       *JetStreamLog
	owner   string
	rev     uint64    // the stream sequence of our lock message
	renewed time.Time // when it was last written
}

// lockOpen takes the open lock, waiting while another node holds it, until
// ctx ends.
func (l *JetStreamLog) lockOpen(ctx context.Context) (*openLock, error) {
	lk := &openLock{l: l, owner: nuid.Next()}
	warned := time.Now()
	for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		// Each attempt is bounded: in a forming cluster a request may go
		// unanswered, and ctx may be long.
		actx, cancel := context.WithTimeout(ctx, min(l.cfg.RequestTimeout, createTimeout))
		m, ok, err := l.leaderLast(actx, msgGetHeadsPrefix, openLockSubject)
		var rev uint64
		held := false
		if err == nil && ok {
			rev, _ = strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
			until, perr := time.Parse(time.RFC3339Nano, m.Header.Get(hdrLockUntil))
			held = perr == nil && time.Now().Before(until)
		}
		if err == nil && !held {
			err = lk.write(actx, rev, time.Now().Add(openLockTTL))
		}
		cancel()
		if err == nil && !held {
			return lk, nil
		}
		if time.Since(warned) >= openWarnEvery {
			warned = time.Now()
			l.lg.Warn("still waiting for the store's open lock (another node is opening or upgrading it)",
				zap.Bool("held", held), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: open lock: %w", ErrUnavailable, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// write stores the lock with the given expiry if its subject's last message
// is still at stream sequence expect.
func (lk *openLock) write(ctx context.Context, expect uint64, until time.Time) error {
	m := &nats.Msg{Subject: openLockSubject, Header: nats.Header{
		hdrLockUntil:     []string{until.UTC().Format(time.RFC3339Nano)},
		hdrLockOwner:     []string{lk.owner},
		hdrExpectSubjSeq: []string{strconv.FormatUint(expect, 10)},
	}}
	ack, err := lk.l.publishAck(ctx, m)
	if err != nil {
		return err
	}
	if ack.Error != nil {
		return classify("open lock", ack.Error)
	}
	lk.rev, lk.renewed = ack.Seq, time.Now()
	return nil
}

// renew extends the lock when a third of its TTL has passed; an error means
// another node took it over (it expired): the caller stops.
func (lk *openLock) renew(ctx context.Context) error {
	if time.Since(lk.renewed) < openLockTTL/3 {
		return nil
	}
	if err := lk.write(ctx, lk.rev, time.Now().Add(openLockTTL)); err != nil {
		return fmt.Errorf("persistence: open lock lost: %w", err)
	}
	return nil
}

// release frees the lock (an expiry in the past). A failure is harmless:
// the lock expires.
func (lk *openLock) release() {
	ctx, cancel := context.WithTimeout(context.Background(), lk.l.cfg.RequestTimeout)
	defer cancel()
	if err := lk.write(ctx, lk.rev, time.Unix(0, 0)); err != nil {
		lk.l.lg.Warn("could not release the store's open lock; it expires by itself", zap.Error(err))
	}
}
