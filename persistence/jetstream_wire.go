package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orgstream/orgstream/messages"
)

// Names in the store. P streams hold the orgs' events, a subject per org
// (partitions.go); one more, without MaxAge, every org's head marker (see
// log_jetstream_head.go).
const (
	// StreamName is the legacy stream that held every org's events before
	// partitions (subjects orgstream.events.<org>). Open moves what it
	// retains into the partitions and deletes it (log_jetstream_upgrade.go).
	StreamName = "ORGSTREAM"
	// HeadsStreamName is the JetStream stream holding every org's head
	// marker. It has no MaxAge, so nothing in it ever ages out.
	HeadsStreamName = "ORGSTREAM_HEADS"
	// EventsPrefix + org was the subject of an org's events in the legacy
	// stream; PartitionSubjectPrefix(i) + org is today's.
	EventsPrefix = "orgstream.events."
	// HeadsPrefix + org is the subject of an org's head marker.
	HeadsPrefix = "orgstream.heads."
	// LivePrefix + org is where JetStream republishes each stored event of
	// the org (RePublish): only stored messages arrive there.
	LivePrefix = "orgstream.live."
)

// Headers of a stored event; the payload is the event's Data.
const (
	HeaderSeq   = "Orgstream-Seq"
	HeaderTopic = "Orgstream-Topic"
	HeaderID    = "Orgstream-Id"
	HeaderTime  = "Orgstream-Time"
)

// JetStream headers we use.
const (
	hdrMsgID         = "Nats-Msg-Id"
	hdrExpectSubjSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrBatchID       = "Nats-Batch-Id"
	hdrBatchSeq      = "Nats-Batch-Sequence"
	hdrBatchCommit   = "Nats-Batch-Commit"
	hdrSequence      = "Nats-Sequence"
	hdrSubject       = "Nats-Subject"
	hdrStream        = "Nats-Stream"
	hdrLastSequence  = "Nats-Last-Sequence" // RePublish: the subject's previous message
	hdrNumPending    = "Nats-Num-Pending"
	hdrStatus        = "Status"
	hdrDescription   = "Description"
)

// Direct Get (any replica answers, possibly a lagging one) and Message Get
// (only the stream leader answers) of each stream.
const (
	directGetPrefix      = "$JS.API.DIRECT.GET."
	msgGetPrefix         = "$JS.API.STREAM.MSG.GET."
	streamInfoPrefix     = "$JS.API.STREAM.INFO."
	stepDownPrefix       = "$JS.API.STREAM.LEADER.STEPDOWN."
	directGetHeadsPrefix = directGetPrefix + HeadsStreamName
	msgGetHeadsPrefix    = msgGetPrefix + HeadsStreamName
)

// JetStream API error codes we act on.
const (
	codeWrongLastSeq         = 10071 // expected-last-subject-sequence mismatch
	codeWrongLastSeqConstant = 10164 // same, on replicated streams
	codeDupInProcess         = 10158 // the first message with this id is not applied yet
	codeBatchDuplicate       = 10201 // atomic batch holds a duplicate msg id
	codeNoMessageFound       = 10037 // message get: no such message
	codeMsgTooLarge          = 10054 // message over the stream's max message size
	codeHeaderTooLarge       = 10097 // headers over the stream's limit
	codeBatchDropped         = 10176 // atomic batch dropped (inflight limit, timeout, leader change)
)

// apiError is JetStream's error in a publish acknowledgement.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("jetstream: %s (%d/%d)", e.Description, e.Code, e.ErrCode)
}

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Duplicate bool      `json:"duplicate"`
	Batch     string    `json:"batch"`
	Count     uint64    `json:"count"`
	Error     *apiError `json:"error"`
}

// The one place where JetStream's and NATS's errors are sorted into the
// package's sentinels, which the callers answer by: ErrConflict (re-read the
// head, retry), ErrUnavailable (transient, nothing stored), ErrOutcomeUnknown
// (transient, stored or not), ErrTooLarge (permanent), or an error wrapping
// none of them (permanent: a retry gets the same refusal).

// classify turns a refused publish into the package's sentinels.
func classify(op string, e *apiError) error {
	switch {
	case e.ErrCode == codeWrongLastSeq || e.ErrCode == codeWrongLastSeqConstant || e.ErrCode == codeDupInProcess:
		return fmt.Errorf("%w: %s: %w", ErrConflict, op, e)
	case e.ErrCode == codeMsgTooLarge || e.ErrCode == codeHeaderTooLarge:
		return fmt.Errorf("%w: %s: %w", ErrTooLarge, op, e)
	case e.Code == 503 || e.Code == 429 || e.Code == 408 || e.ErrCode == codeBatchDropped:
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, e)
	default:
		return fmt.Errorf("persistence: %s refused: %w", op, e)
	}
}

// transportErr turns a failed NATS request that stores nothing (a read, a
// probe) into the package's sentinels.
func transportErr(op string, err error) error { return natsErr(op, err, false) }

// appendErr turns a failed append request into the package's sentinels: a
// timeout once the request may have reached the server leaves the outcome
// unknown.
func appendErr(op string, err error) error { return natsErr(op, err, true) }

// natsErr sorts a failed NATS request; sent tells whether it may have
// reached the server.
func natsErr(op string, err error, sent bool) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%w: %s: %w", ErrTooLarge, op, err)
	case errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrHeadersNotSupported):
		return fmt.Errorf("persistence: %s: %w", op, err)
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: %s: no JetStream responder: %w", ErrUnavailable, op, err)
	case sent && (errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled)):
		return fmt.Errorf("%w: %s: %w", ErrOutcomeUnknown, op, err)
	default:
		// Closed or reconnecting connections, a context that ended before
		// the request went out.
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
}

// request sends m and waits for one reply, bounded by ctx or, without a
// deadline, by timeout.
func request(ctx context.Context, nc *nats.Conn, m *nats.Msg, timeout time.Duration) (*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return nc.RequestMsgWithContext(ctx, m)
}

// eventMsg builds the stored form of an event of org on subject (the org's
// subject in its partition).
func eventMsg(subject, org string, ev *messages.Event) *nats.Msg {
	h := make(nats.Header, 8)
	h[HeaderSeq] = []string{strconv.FormatUint(ev.Seq, 10)}
	h[HeaderTopic] = []string{ev.Topic}
	h[HeaderTime] = []string{ev.Time.Format(time.RFC3339Nano)}
	if len(ev.To) > 0 {
		h[HeaderTo] = []string{encodeTo(ev.To)}
	}
	if ev.ID != "" {
		h[HeaderID] = []string{ev.ID}
		// Dedup is per stream; prefixing the org scopes IDs per org (org ids
		// have no ':').
		h[hdrMsgID] = []string{org + ":" + ev.ID}
	}
	return &nats.Msg{Subject: subject, Header: h, Data: ev.Data}
}

// eventOf decodes a stored event (from a direct get or the live feed) and
// returns its stream sequence when the message carries one.
func eventOf(m *nats.Msg) (messages.Event, uint64, error) {
	var ev messages.Event
	seq, err := strconv.ParseUint(m.Header.Get(HeaderSeq), 10, 64)
	if err != nil || seq == 0 {
		return ev, 0, fmt.Errorf("persistence: stored message on %s has no valid %s", m.Subject, HeaderSeq)
	}
	ts, err := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderTime))
	if err != nil {
		return ev, 0, fmt.Errorf("persistence: stored message on %s: bad %s: %w", m.Subject, HeaderTime, err)
	}
	rev, _ := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	ev = messages.Event{
		Seq:   seq,
		Topic: m.Header.Get(HeaderTopic),
		ID:    m.Header.Get(HeaderID),
		Time:  ts.UTC(),
		Data:  json.RawMessage(m.Data),
		To:    decodeTo(m.Header.Get(HeaderTo)),
	}
	return ev, rev, nil
}

// status returns a reply's inline status ("404", "204", …) or "".
func status(m *nats.Msg) string {
	if m.Header == nil {
		return ""
	}
	return m.Header.Get(hdrStatus)
}
