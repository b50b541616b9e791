package persistence

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// The sweep closes the crash window of the lazy head markers
// (log_jetstream_head.go): an event stored, the process killed before the
// marker that covers it was written. It lists the orgs with retained events
// (each partition stream's subjects), reads the last event of each and each
// marker in bulk, and hands every org whose last event is ahead of its
// marker to the marker writer, which re-reads the marker from the leader
// and raises it by compare-and-set. The bulk reads are Direct Gets with
// multi_last (nats-server 2.11+): one request, one message back per subject
// and a 204 at the end of the batch. They may come from a lagging replica:
// a stale event only leaves the repair to the next sweep, a stale marker
// only costs a leader read.

// minSweepEvery is the shortest period of the periodic sweep.
const minSweepEvery = 30 * time.Second

// sweepEveryFor is the period of the sweep under retention: often enough to
// see an event before it ages out (Retention/2), and no more than twice a
// minute.
func sweepEveryFor(retention time.Duration) time.Duration {
	return max(retention/2, minSweepEvery)
}

// sweepChunk is how many subjects one multi_last request names: the server
// answers 413 (too many results) to a request matching more than 1024.
const sweepChunk = 1000

// sweep hands every org whose last retained event is ahead of its head
// marker to the marker writer. Failures are logged: the next sweep, Head or
// Append repairs the same orgs.
func (l *JetStreamLog) sweep() {
	ctx, cancel := context.WithTimeout(l.ctx, 4*l.cfg.RequestTimeout)
	defer cancel()
	n, err := l.sweepOnce(ctx, sweepChunk)
	switch {
	case err != nil && l.ctx.Err() == nil:
		l.lg.Warn("head marker sweep failed; the next one retries", zap.Error(err))
	case n > 0:
		l.lg.Info("head marker sweep: markers behind their events, raising them", zap.Int("orgs", n))
	}
}

// sweepOnce is one sweep with chunk subjects per bulk read; it returns how
// many orgs it handed to the marker writer.
func (l *JetStreamLog) sweepOnce(ctx context.Context, chunk int) (int, error) {
	behind := 0
	for i := range l.parts {
		n, err := l.sweepPartition(ctx, &l.parts[i], chunk)
		behind += n
		if err != nil {
			return behind, err
		}
	}
	return behind, nil
}

// sweepPartition sweeps the orgs of one partition stream.
func (l *JetStreamLog) sweepPartition(ctx context.Context, p *partition, chunk int) (int, error) {
	orgs, err := l.retainedOrgs(ctx, p)
	if err != nil {
		return 0, err
	}
	behind := 0
	for batch := range slices.Chunk(orgs, chunk) {
		last := make(map[string]uint64, len(batch))
		if err := l.multiLast(ctx, p.gets.direct, p.events, batch, 0, func(org string, m *nats.Msg) error {
			ev, _, err := eventOf(m)
			if err != nil { // not written by a log: nothing to repair
				l.lg.Warn("head marker sweep: malformed event", zap.String("org", org), zap.Error(err))
				return nil
			}
			last[org] = ev.Seq
			return nil
		}); err != nil {
			return behind, err
		}
		marks := make(map[string]uint64, len(batch))
		if err := l.multiLast(ctx, directGetHeadsPrefix, HeadsPrefix, batch, 0, func(org string, m *nats.Msg) error {
			seq, err := strconv.ParseUint(m.Header.Get(HeaderSeq), 10, 64)
			if err != nil {
				return fmt.Errorf("persistence: head marker of %s has a bad %s", org, HeaderSeq)
			}
			marks[org] = seq
			return nil
		}); err != nil {
			return behind, err
		}
		for _, org := range slices.Sorted(maps.Keys(last)) {
			if last[org] > marks[org] {
				l.markers.write(org, last[org])
				behind++
			}
		}
	}
	return behind, nil
}

// retainedOrgs lists the orgs with events in partition p's stream, from
// its stream info (paged by the client).
func (l *JetStreamLog) retainedOrgs(ctx context.Context, p *partition) ([]string, error) {
	js, err := jetstream.New(l.nc)
	if err != nil {
		return nil, fmt.Errorf("persistence: sweep: jetstream: %w", err)
	}
	s, err := js.Stream(ctx, p.stream)
	if err != nil {
		return nil, transportErr("sweep: stream", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(p.events+"*"))
	if err != nil {
		return nil, transportErr("sweep: stream info", err)
	}
	orgs := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		orgs = append(orgs, strings.TrimPrefix(subj, p.events))
	}
	slices.Sort(orgs)
	return orgs, nil
}

// multiLast reads the last message of prefix+org for each org with
// Direct Gets (multi_last) to the stream behind getPrefix and passes each
// with its org to fn. Orgs without a message are left out. The server stops
// a batch at its max bytes (the server's max pending, 64 MiB by default: a
// thousand large events exceed it) and says how many it held back in the
// end-of-batch's Nats-Num-Pending; the orgs not answered yet are then asked
// again. maxBytes is the batches' max bytes, 0 for the server's.
func (l *JetStreamLog) multiLast(ctx context.Context, getPrefix, prefix string, orgs []string, maxBytes int, fn func(org string, m *nats.Msg) error) error {
	for len(orgs) > 0 {
		seen := make(map[string]bool, len(orgs))
		pending, err := l.multiLastOnce(ctx, getPrefix, prefix, orgs, maxBytes, func(org string, m *nats.Msg) error {
			seen[org] = true
			return fn(org, m)
		})
		if err != nil || pending == 0 {
			return err
		}
		if len(seen) == 0 {
			return fmt.Errorf("%w: sweep: a batch held back %d messages and sent none", ErrUnavailable, pending)
		}
		orgs = slices.DeleteFunc(slices.Clone(orgs), func(org string) bool { return seen[org] })
	}
	return nil
}

// multiLastOnce is one multi_last request; pending is how many messages the
// server held back (0: all were sent). A 404 (no message at all) is no
// error.
func (l *JetStreamLog) multiLastOnce(ctx context.Context, getPrefix, prefix string, orgs []string, maxBytes int, fn func(org string, m *nats.Msg) error) (pending uint64, err error) {
	inbox := l.nc.NewInbox()
	sub, err := l.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, transportErr("sweep", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	body := make([]byte, 0, 32+len(orgs)*(len(prefix)+16))
	body = append(body, `{"multi_last":[`...)
	for i, org := range orgs {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendQuote(body, prefix+org)
	}
	body = append(body, ']')
	if maxBytes > 0 {
		body = append(body, `,"max_bytes":`...)
		body = strconv.AppendInt(body, int64(maxBytes), 10)
	}
	body = append(body, '}')
	if err := l.nc.PublishMsg(&nats.Msg{Subject: getPrefix, Reply: inbox, Data: body}); err != nil {
		return 0, transportErr("sweep", err)
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, transportErr("sweep", err)
		}
		switch st := status(m); st {
		case "":
		case "204": // end of batch
			pending, _ = strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
			return pending, nil
		case "404":
			return 0, nil
		default:
			return 0, fmt.Errorf("%w: sweep: direct get: %s %s", ErrUnavailable, st, m.Header.Get(hdrDescription))
		}
		org, ok := strings.CutPrefix(m.Header.Get(hdrSubject), prefix)
		if !ok {
			return 0, fmt.Errorf("%w: sweep: direct get answered %q", ErrUnavailable, m.Header.Get(hdrSubject))
		}
		if err := fn(org, m); err != nil {
			return 0, err
		}
	}
}
