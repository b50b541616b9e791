package persistence

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// Reads use JetStream's Direct Get (AllowDirect): a request answered by any
// current replica, without a consumer. An org seq maps to a stream sequence
// only through the stored messages (one stream holds every org), so Read
// first locates the stream sequence of `from` by a narrowing search over
// next-by-subject lookups, then fetches a batch.
//
// On a replicated stream a Direct Get may be answered by a replica that lags
// the leader. Where that matters (the head after a conflict, the marker
// check of an append, the marker writer's compare-and-set) the last message
// of a subject is read with the non-direct Message Get instead, which only
// the stream leader answers (leaderLast). It costs more (measured on the
// embedded R1 server, in-process: about 30 µs against 18 µs, and on a
// cluster it goes to the leader's node), so the common paths stay direct.

// directBatchMax and directBatchBytes bound one batch request so that its
// replies always fit the reply subscription's pending limits.
const (
	directBatchMax   = 1000
	directBatchBytes = 8 << 20
)

// Read implements Log.
func (l *JetStreamLog) Read(ctx context.Context, org string, from uint64, max int) ([]messages.Event, error) {
	if err := l.check(org); err != nil {
		return nil, err
	}
	evs, _, _, err := l.read(ctx, org, from, max, false)
	return evs, err
}

// read is Read, plus the stream sequence of each event when withRevs is
// set, and hole: the events stop before a missing seq (a message deleted
// from the middle of the org's log) rather than at max or the log's end.
// Like Read it starts at the first retained event >= from, which is after
// from when from itself is missing; the caller compares.
func (l *JetStreamLog) read(ctx context.Context, org string, from uint64, max int, withRevs bool) (evs []messages.Event, revs []uint64, hole bool, err error) {
	if max <= 0 {
		return nil, nil, false, nil
	}
	from = maxU(from, 1)
	start, oldest, ok, err := l.locate(ctx, org, from)
	if err != nil || !ok {
		return nil, nil, false, err
	}
	defer func() {
		if hole || (len(evs) > 0 && evs[0].Seq > from && from > oldest) {
			l.sawHole(org)
		}
	}()
	out := make([]messages.Event, 0, min(max, directBatchMax))
	if withRevs {
		revs = make([]uint64, 0, cap(out))
	}
	rev := start
	size := 0
	for len(out) < max && size < ReadMaxBytes {
		var prev uint64
		if len(out) > 0 {
			prev = out[len(out)-1].Seq
		}
		n := min(max-len(out), directBatchMax)
		got, last, pending, stopped, err := l.directBatch(ctx, l.part(org), org, rev, n, func(ev messages.Event, evRev uint64) bool {
			switch {
			case ev.Seq < from || (prev != 0 && ev.Seq <= prev):
				return true // before the start (the search lands at or before it)
			case prev != 0 && ev.Seq != prev+1:
				return false // a hole: stop rather than skip
			case size >= ReadMaxBytes:
				return true // the byte bound: the rest of the batch is dropped
			}
			size += len(ev.Data)
			out = append(out, ev)
			if withRevs {
				revs = append(revs, evRev)
			}
			prev = ev.Seq
			return true
		})
		if err != nil {
			return out, revs, false, err
		}
		if stopped {
			return out, revs, true, nil
		}
		if got == 0 || pending == 0 {
			break
		}
		rev = last + 1
	}
	return out, revs, false, nil
}

// locate returns the stream sequence of org's event `from`, or of the first
// retained event when from is older, or of some retained event of the org
// before it (the search may stop early under concurrent expiry), and the
// oldest retained seq. When from itself is missing (a hole) it may return
// the stream sequence of a later event. ok is false when no event >= from
// is retained.
func (l *JetStreamLog) locate(ctx context.Context, org string, from uint64) (rev, oldest uint64, ok bool, err error) {
	first, firstRev, ok, err := l.firstEvent(ctx, org)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	if from <= first.Seq {
		return firstRev, first.Seq, true, nil
	}
	lastSeq, lastRev, err := l.lastEvent(ctx, org, false)
	if err != nil || lastRev == 0 || from > lastSeq {
		return 0, 0, false, err
	}
	if from == lastSeq {
		return lastRev, first.Seq, true, nil
	}
	// Org seqs are consecutive and each took its own stream sequence (a
	// deleted one too), so the target T lies in [lo, hi]. When `from` is
	// missing the search ends at or before the next event, where the batch
	// starts.
	lo := firstRev + (from - first.Seq)
	hi := lastRev - (lastSeq - from)
	for lo < hi {
		mid := lo + (hi-lo)/2
		ev, rev, ok, err := l.nextEvent(ctx, org, mid)
		if err != nil {
			return 0, 0, false, err
		}
		switch {
		case !ok:
			return lo, first.Seq, true, nil
		case ev.Seq == from:
			return rev, first.Seq, true, nil
		case ev.Seq > from: // T < mid
			hi = min(mid-1, rev-(ev.Seq-from))
		default: // T > rev >= mid
			lo = maxU(mid+1, rev+(from-ev.Seq))
		}
	}
	return lo, first.Seq, true, nil
}

// firstEvent is the org's oldest retained event and its stream sequence.
func (l *JetStreamLog) firstEvent(ctx context.Context, org string) (messages.Event, uint64, bool, error) {
	return l.nextEvent(ctx, org, 0)
}

// nextEvent is the org's first event at stream sequence >= rev.
func (l *JetStreamLog) nextEvent(ctx context.Context, org string, rev uint64) (messages.Event, uint64, bool, error) {
	body := make([]byte, 0, 96)
	body = append(body, `{"seq":`...)
	body = strconv.AppendUint(body, rev, 10)
	pt := l.part(org)
	body = append(body, `,"next_by_subj":"`...)
	body = append(body, pt.events...)
	body = append(body, org...)
	body = append(body, `"}`...)
	m, ok, err := l.directGet(ctx, pt.gets.direct, "", body)
	if err != nil || !ok {
		return messages.Event{}, 0, false, err
	}
	ev, evRev, err := eventOf(m)
	if err != nil {
		return messages.Event{}, 0, false, err
	}
	return ev, evRev, true, nil
}

// lastEvent is the seq and stream sequence of the org's newest retained
// event, zeros when none is retained. accurate asks the stream leader.
func (l *JetStreamLog) lastEvent(ctx context.Context, org string, accurate bool) (seq, rev uint64, err error) {
	pt := l.part(org)
	m, ok, err := l.lastMsg(ctx, pt.gets, pt.events+org, accurate)
	if err != nil || !ok {
		return 0, 0, err
	}
	ev, rev, err := eventOf(m)
	if err != nil {
		return 0, 0, err
	}
	return ev.Seq, rev, nil
}

// dupSeq is the org seq of the event that JetStream's duplicate answer for
// id names (stream sequence rev): the first event stored with that id, 0
// when it is no longer retained. The answer is trusted only when the event
// at rev carries id. A dedup entry whose sequence went to another event (a
// leader's estimate for a proposal that a fault then dropped, or a replica
// whose store diverged) would otherwise acknowledge this draft with another
// event's seq, and this draft, never stored, would be lost: the nemesis saw
// exactly that once (a seq acknowledged for two events, issue 10). Such an
// answer is ErrOutcomeUnknown, so the publisher retries with the same id.
// On a replicated stream the event's place is checked too: an event that
// collided (stored with a seq another event already had, which followers
// drop; log_jetstream_collide.go) answers the seq of its copy.
func (l *JetStreamLog) dupSeq(ctx context.Context, org string, rev uint64, id string) (uint64, error) {
	m, ok, err := l.msgAt(ctx, l.part(org), rev)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, nil // evicted (MaxEventsPerOrg) inside the dedup window
	case m.Header.Get(hdrSubject) != l.subject(org):
		return 0, fmt.Errorf("%w: the duplicate answer for id %q in %s names stream sequence %d, a message of %s",
			ErrOutcomeUnknown, id, org, rev, m.Header.Get(hdrSubject))
	}
	ev, _, err := eventOf(m)
	if err != nil {
		return 0, err
	}
	if ev.ID != id {
		return 0, fmt.Errorf("%w: the duplicate answer for id %q in %s names stream sequence %d, the event of id %q (seq %d)",
			ErrOutcomeUnknown, id, org, rev, ev.ID, ev.Seq)
	}
	// A collided message (log_jetstream_collide.go) answers its copy's seq.
	return l.placedSeq(ctx, org, m, ev, rev)
}

// eventAt is org's event stored at stream sequence rev; ok is false when the
// log holds no event of org there. A replica answers first; when it has no
// message there, the stream leader is asked, since that replica may lag the
// leader, which acknowledged the message (a publish retried on another node
// right after the first ack; a live message republished a moment ago).
func (l *JetStreamLog) eventAt(ctx context.Context, org string, rev uint64) (messages.Event, bool, error) {
	m, ok, err := l.msgAt(ctx, l.part(org), rev)
	if err != nil || !ok || m.Header.Get(hdrSubject) != l.subject(org) {
		return messages.Event{}, false, err
	}
	ev, _, err := eventOf(m)
	if err != nil {
		return messages.Event{}, false, err
	}
	return ev, true, nil
}

// msgAt is partition pt's message at stream sequence rev, asked of a
// replica first and of the leader when that replica has none (see eventAt).
func (l *JetStreamLog) msgAt(ctx context.Context, pt *partition, rev uint64) (*nats.Msg, bool, error) {
	body := strconv.AppendUint([]byte(`{"seq":`), rev, 10)
	body = append(body, '}')
	m, ok, err := l.directGet(ctx, pt.gets.direct, "", body)
	if err == nil && !ok {
		m, ok, err = l.leaderGet(ctx, pt.gets.leader, body)
	}
	return m, ok, err
}

// countedEvent is org's first event at stream sequence >= rev, with after:
// how many events of org the answering replica holds after it. Both come
// from one Direct Get of a batch of one, answered by one replica at one
// instant (the batch's Nats-Num-Pending header).
func (l *JetStreamLog) countedEvent(ctx context.Context, org string, rev uint64) (ev messages.Event, evRev, after uint64, ok bool, err error) {
	body := make([]byte, 0, 112)
	body = append(body, `{"seq":`...)
	body = strconv.AppendUint(body, rev, 10)
	pt := l.part(org)
	body = append(body, `,"next_by_subj":"`...)
	body = append(body, pt.events...)
	body = append(body, org...)
	body = append(body, `","batch":1}`...)
	// The first reply is the message; the end-of-batch status that follows
	// it reaches the connection's shared reply inbox after the request is
	// answered and is dropped there.
	m, ok, err := l.directGet(ctx, pt.gets.direct, "", body)
	if err != nil || !ok {
		return messages.Event{}, 0, 0, false, err
	}
	if ev, evRev, err = eventOf(m); err != nil {
		return messages.Event{}, 0, 0, false, err
	}
	after, err = strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
	if err != nil {
		return messages.Event{}, 0, 0, false, fmt.Errorf("%w: read: batch get without %s", ErrUnavailable, hdrNumPending)
	}
	return ev, evRev, after, true, nil
}

// streamGets names the Direct Get and Message Get subjects of one stream.
type streamGets struct{ direct, leader string }

var headsStream = streamGets{direct: directGetHeadsPrefix, leader: msgGetHeadsPrefix}

// lastMsg is the last message on subj in stream g, from any replica or, when
// accurate, from the stream leader. ok is false when there is none.
func (l *JetStreamLog) lastMsg(ctx context.Context, g streamGets, subj string, accurate bool) (*nats.Msg, bool, error) {
	if accurate {
		return l.leaderLast(ctx, g.leader, subj)
	}
	return l.directGet(ctx, g.direct, subj, nil)
}

// directGet sends one Direct Get to the stream of prefix: by body
// ({"seq":…}) or, with lastFor, the last message on that subject. ok is
// false when there is no such message.
func (l *JetStreamLog) directGet(ctx context.Context, prefix, lastFor string, body []byte) (*nats.Msg, bool, error) {
	subj := prefix
	if lastFor != "" {
		subj += "." + lastFor
	}
	resp, err := request(ctx, l.nc, &nats.Msg{Subject: subj, Data: body}, l.cfg.RequestTimeout)
	if err != nil {
		return nil, false, transportErr("read", err)
	}
	switch st := status(resp); st {
	case "":
		return resp, true, nil
	case "404":
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("%w: read: direct get: %s %s", ErrUnavailable, st, resp.Header.Get(hdrDescription))
	}
}

// leaderLast reads the last message on subj with the stream's Message Get
// API (prefix), which only the stream leader answers: unlike a Direct Get it
// never sees a lagging replica's state. The message comes back like a Direct
// Get's, its stream sequence in Nats-Sequence.
func (l *JetStreamLog) leaderLast(ctx context.Context, prefix, subj string) (*nats.Msg, bool, error) {
	body := make([]byte, 0, 24+len(subj))
	body = append(body, `{"last_by_subj":"`...)
	body = append(body, subj...)
	body = append(body, `"}`...)
	return l.leaderGet(ctx, prefix, body)
}

// leaderGet sends one Message Get (body {"seq":…} or {"last_by_subj":…})
// to the stream leader behind prefix. The message comes back like a Direct
// Get's: its stream sequence in Nats-Sequence, its subject in Nats-Subject.
func (l *JetStreamLog) leaderGet(ctx context.Context, prefix string, body []byte) (*nats.Msg, bool, error) {
	resp, err := request(ctx, l.nc, &nats.Msg{Subject: prefix, Data: body}, l.cfg.RequestTimeout)
	if err != nil {
		return nil, false, transportErr("read", err)
	}
	if st := status(resp); st != "" {
		return nil, false, fmt.Errorf("%w: read: message get: %s %s", ErrUnavailable, st, resp.Header.Get(hdrDescription))
	}
	var r struct {
		Error   *apiError `json:"error"`
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Header  []byte `json:"hdrs"`
			Data    []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, false, fmt.Errorf("%w: read: message get: bad answer: %w", ErrUnavailable, err)
	}
	switch {
	case r.Error != nil && r.Error.ErrCode == codeNoMessageFound:
		return nil, false, nil
	case r.Error != nil:
		// Stream not found, no leader, …: the log cannot serve now.
		return nil, false, fmt.Errorf("%w: read: message get: %w", ErrUnavailable, r.Error)
	case r.Message == nil:
		return nil, false, fmt.Errorf("%w: read: message get: answer without a message", ErrUnavailable)
	}
	h := nats.Header{}
	if len(r.Message.Header) > 0 {
		if h, err = nats.DecodeHeadersMsg(r.Message.Header); err != nil {
			return nil, false, fmt.Errorf("persistence: read: message get: %s: %w", r.Message.Subject, err)
		}
	}
	h.Set(hdrSequence, strconv.FormatUint(r.Message.Seq, 10))
	h.Set(hdrSubject, r.Message.Subject)
	return &nats.Msg{Subject: r.Message.Subject, Header: h, Data: r.Message.Data}, true, nil
}

// directBatch fetches up to n messages of org's subject in partition pt
// from stream sequence rev on and passes each event, with its stream
// sequence, to fn until fn returns false (hole). It returns how many
// messages arrived, the stream sequence of the last one and how many remain
// after it.
func (l *JetStreamLog) directBatch(ctx context.Context, pt *partition, org string, rev uint64, n int, fn func(messages.Event, uint64) bool) (got int, last, pending uint64, hole bool, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.cfg.RequestTimeout)
		defer cancel()
	}
	inbox := l.nc.NewInbox()
	sub, err := l.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, 0, 0, false, transportErr("read", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	body := make([]byte, 0, 128)
	body = append(body, `{"seq":`...)
	body = strconv.AppendUint(body, rev, 10)
	body = append(body, `,"next_by_subj":"`...)
	body = append(body, pt.events...)
	body = append(body, org...)
	body = append(body, `","batch":`...)
	body = strconv.AppendInt(body, int64(n), 10)
	body = append(body, `,"max_bytes":`...)
	body = strconv.AppendInt(body, directBatchBytes, 10)
	body = append(body, '}')
	if err := l.nc.PublishMsg(&nats.Msg{Subject: pt.gets.direct, Reply: inbox, Data: body}); err != nil {
		return 0, 0, 0, false, transportErr("read", err)
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return got, last, pending, hole, transportErr("read", err)
		}
		switch st := status(m); st {
		case "":
		case "204": // end of batch
			pending, _ = strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
			return got, last, pending, hole, nil
		case "404":
			return got, last, 0, hole, nil
		case "503":
			return got, last, pending, hole, fmt.Errorf("%w: read: no JetStream responder", ErrUnavailable)
		default:
			return got, last, pending, hole, fmt.Errorf("%w: read: direct get: %s %s", ErrUnavailable, st, m.Header.Get(hdrDescription))
		}
		ev, rev, err := eventOf(m)
		if err != nil {
			return got, last, pending, hole, err
		}
		got++
		last = rev
		if !hole && !fn(ev, rev) {
			hole = true // drain the rest of the batch, deliver nothing more
		}
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
