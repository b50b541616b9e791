package messages

// DeflateThreshold is the payload size above which frames are also built
// compressed (PROTOCOL.md: frames whose payload is over 1 KiB).
const DeflateThreshold = 1024

// Frame is one server-to-client message, encoded once and shared by every
// connection that writes it. The byte slices are complete WebSocket frames
// (header and payload) and must never be modified.
type Frame struct {
	// Seq is the event seq, 0 for non-event frames.
	Seq uint64
	// Plain is the uncompressed text frame.
	Plain []byte
	// Deflated is the same message as a permessage-deflate frame (RSV1 set,
	// compressed without context takeover), nil when the payload is at most
	// DeflateThreshold bytes.
	Deflated []byte
	// Topic and To are an event frame's metadata for scoped delivery
	// (Scope.AllowsFrame): each connection filters the shared frame with
	// them, never by encoding again. To is never written into the frame:
	// recipients must not learn of each other. Both are empty for other
	// frames.
	Topic string
	To    []string
	// sse holds the Server-Sent Events forms, built on first use (For);
	// copies of the Frame share it. Nil in a Frame built by hand: its SSE
	// forms are then built on every call.
	sse *sseForms
}

// Welcome is the first frame of every stream.
type Welcome struct {
	ConnID  string
	Org     string
	User    string
	Epoch   string
	Head    uint64
	Resumed bool
	// Replay is set when Resumed: the seqs that follow before live events.
	// From > To means an empty replay.
	ReplayFrom, ReplayTo uint64
	// Scoped is set when the stream has a topic scope (token or query
	// topics): the welcome then carries "scoped":true, and only then.
	Scoped bool
}

// Reset tells a resuming client that its position cannot be served.
type Reset struct {
	// Reason is one of ResetWindowExceeded, ResetEpochChanged,
	// ResetInvalidPosition.
	Reason string
	First  uint64 // the oldest retained seq
	Head   uint64
}

// Reset reasons of PROTOCOL.md.
const (
	ResetWindowExceeded  = "window_exceeded"
	ResetEpochChanged    = "epoch_changed"
	ResetInvalidPosition = "invalid_position"
)

// tsLayout is RFC 3339 with exactly six fractional digits; with a UTC time
// the zone prints as "Z".
const tsLayout = "2006-01-02T15:04:05.000000Z07:00"

// EncodeEvent builds the event frame:
// {"type":"event","seq":…,"topic":…,"ts":…,"id":…,"data":…} with "id" left
// out when empty and ts in RFC 3339 with microseconds, UTC.
//
// ev.Data is written verbatim and must be valid JSON (ParsePublish
// guarantees it); empty Data is written as null. It allocates only the
// returned frames. Its SSE message has no epoch in its id: the org's
// frames come from EncodeEventIn.
func EncodeEvent(ev Event) Frame { return EncodeEventIn(ev, "") }

// EncodeEventIn is EncodeEvent for an event of the log of epoch: the SSE
// message built from the frame (Frame.For) carries "id: <epoch>:<seq>".
func EncodeEventIn(ev Event, epoch string) Frame {
	var tsBuf [48]byte
	ts := ev.Time.UTC().AppendFormat(tsBuf[:0], tsLayout)
	data := []byte(ev.Data)
	if len(data) == 0 {
		data = nullJSON
	}

	n := len(`{"type":"event","seq":`) + uintLen(ev.Seq) +
		len(`,"topic":`) + quotedLen(ev.Topic) +
		len(`,"ts":"`) + len(ts) + len(`"`) +
		len(`,"data":`) + len(data) + len(`}`)
	if ev.ID != "" {
		n += len(`,"id":`) + quotedLen(ev.ID)
	}

	b, hs := newFrame(n)
	b = append(b, `{"type":"event","seq":`...)
	b = appendUint(b, ev.Seq)
	b = append(b, `,"topic":`...)
	b = appendQuoted(b, ev.Topic)
	b = append(b, `,"ts":"`...)
	b = append(b, ts...)
	b = append(b, '"')
	if ev.ID != "" {
		b = append(b, `,"id":`...)
		b = appendQuoted(b, ev.ID)
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	f := finishFrame(ev.Seq, b, hs, n)
	f.Topic, f.To = ev.Topic, ev.To
	f.sse.epoch = epoch
	return f
}

var nullJSON = []byte("null")

// EncodeWelcome builds the welcome frame ("replay" only when w.Resumed,
// "scoped" only when w.Scoped). It always carries "protocol": the version
// of the wire contract this daemon speaks (ProtocolVersion).
func EncodeWelcome(w Welcome) Frame {
	n := len(`{"type":"welcome","conn_id":`) + quotedLen(w.ConnID) +
		len(`,"org":`) + quotedLen(w.Org) +
		len(`,"user":`) + quotedLen(w.User) +
		len(`,"epoch":`) + quotedLen(w.Epoch) +
		len(`,"head":`) + uintLen(w.Head) +
		len(`,"resumed":`) + boolLen(w.Resumed) +
		len(`,"protocol":`) + quotedLen(ProtocolVersion) + len(`}`)
	if w.Scoped {
		n += len(`,"scoped":true`)
	}
	if w.Resumed {
		n += len(`,"replay":{"from":`) + uintLen(w.ReplayFrom) +
			len(`,"to":`) + uintLen(w.ReplayTo) + len(`}`)
	}

	b, hs := newFrame(n)
	b = append(b, `{"type":"welcome","conn_id":`...)
	b = appendQuoted(b, w.ConnID)
	b = append(b, `,"org":`...)
	b = appendQuoted(b, w.Org)
	b = append(b, `,"user":`...)
	b = appendQuoted(b, w.User)
	b = append(b, `,"epoch":`...)
	b = appendQuoted(b, w.Epoch)
	b = append(b, `,"head":`...)
	b = appendUint(b, w.Head)
	b = append(b, `,"resumed":`...)
	b = appendBool(b, w.Resumed)
	b = append(b, `,"protocol":`...)
	b = appendQuoted(b, ProtocolVersion)
	if w.Scoped {
		b = append(b, `,"scoped":true`...)
	}
	if w.Resumed {
		b = append(b, `,"replay":{"from":`...)
		b = appendUint(b, w.ReplayFrom)
		b = append(b, `,"to":`...)
		b = appendUint(b, w.ReplayTo)
		b = append(b, '}')
	}
	b = append(b, '}')
	return finishFrame(0, b, hs, n)
}

// EncodeReset builds the reset frame.
func EncodeReset(r Reset) Frame {
	n := len(`{"type":"reset","reason":`) + quotedLen(r.Reason) +
		len(`,"first":`) + uintLen(r.First) +
		len(`,"head":`) + uintLen(r.Head) + len(`}`)

	b, hs := newFrame(n)
	b = append(b, `{"type":"reset","reason":`...)
	b = appendQuoted(b, r.Reason)
	b = append(b, `,"first":`...)
	b = appendUint(b, r.First)
	b = append(b, `,"head":`...)
	b = appendUint(b, r.Head)
	b = append(b, '}')
	return finishFrame(0, b, hs, n)
}
