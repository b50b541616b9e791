package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrFrame is returned for a server text frame that is not a PROTOCOL.md
// frame.
var ErrFrame = errors.New("bench: malformed frame")

// FrameType is the "type" of a server frame.
type FrameType uint8

// Frame types of PROTOCOL.md.
const (
	FrameUnknown FrameType = iota
	FrameWelcome
	FrameEvent
	FrameReset
)

// Frame is what the harness reads from a server text frame. Only the fields
// of its Type are set.
type Frame struct {
	Type FrameType
	// Seq is an event's seq.
	Seq uint64
	// Sent is the publisher's send time (unix ns) when the event's data is
	// an object whose first member is "t" (as the harness publishes), else 0.
	Sent int64

	// Welcome fields.
	Epoch      string
	Head       uint64
	Resumed    bool
	ReplayFrom uint64
	ReplayTo   uint64

	// Reset fields (Head as well).
	Reason string
	First  uint64
}

var (
	eventPrefix = []byte(`{"type":"event","seq":`)
	dataT       = []byte(`,"data":{"t":`)
)

// ParseFrame decodes one text frame. Events in the server's own layout
// ({"type":"event","seq":…, …,"data":{"t":…) are read without allocating;
// anything else goes through encoding/json.
func ParseFrame(b []byte) (Frame, error) {
	if f, ok := parseEventFast(b); ok {
		return f, nil
	}
	return parseFrameJSON(b)
}

// parseEventFast reads the seq and the send time of an event frame laid out
// as messages.EncodeEvent writes it. ok is false when the layout differs.
func parseEventFast(b []byte) (Frame, bool) {
	if !bytes.HasPrefix(b, eventPrefix) || len(b) == 0 || b[len(b)-1] != '}' {
		return Frame{}, false
	}
	rest := b[len(eventPrefix):]
	seq, n, ok := parseUint(rest)
	if !ok || n >= len(rest) || rest[n] != ',' {
		return Frame{}, false
	}
	f := Frame{Type: FrameEvent, Seq: seq}
	rest = rest[n:]
	// A quote inside a JSON string is escaped, so `,"data":` cannot occur
	// inside the topic or id; the first occurrence is the data member.
	i := bytes.Index(rest, dataT)
	if i < 0 {
		if !bytes.Contains(rest, []byte(`,"data":`)) {
			return Frame{}, false
		}
		return f, true // data without a leading "t": no send time
	}
	t, n, ok := parseUint(rest[i+len(dataT):])
	if ok && n > 0 && t <= 1<<63-1 {
		if next := rest[i+len(dataT)+n:]; len(next) > 0 && (next[0] == ',' || next[0] == '}') {
			f.Sent = int64(t)
		}
	}
	return f, true
}

// parseUint reads leading decimal digits (no sign, at most 19 digits so it
// cannot overflow).
func parseUint(b []byte) (v uint64, n int, ok bool) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		if n == 19 {
			return 0, 0, false
		}
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n, n > 0
}

// wireFrame is every field of every server frame.
type wireFrame struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq"`
	Data    json.RawMessage `json:"data"`
	Epoch   string          `json:"epoch"`
	Head    uint64          `json:"head"`
	Resumed bool            `json:"resumed"`
	Replay  *struct {
		From uint64 `json:"from"`
		To   uint64 `json:"to"`
	} `json:"replay"`
	Reason string `json:"reason"`
	First  uint64 `json:"first"`
}

func parseFrameJSON(b []byte) (Frame, error) {
	var w wireFrame
	if err := json.Unmarshal(b, &w); err != nil {
		return Frame{}, fmt.Errorf("%w: %w", ErrFrame, err)
	}
	switch w.Type {
	case "event":
		f := Frame{Type: FrameEvent, Seq: w.Seq}
		var d struct {
			T int64 `json:"t"`
		}
		if len(w.Data) > 0 && w.Data[0] == '{' && json.Unmarshal(w.Data, &d) == nil {
			f.Sent = d.T
		}
		return f, nil
	case "welcome":
		f := Frame{Type: FrameWelcome, Epoch: w.Epoch, Head: w.Head, Resumed: w.Resumed}
		if w.Replay != nil {
			f.ReplayFrom, f.ReplayTo = w.Replay.From, w.Replay.To
		}
		return f, nil
	case "reset":
		return Frame{Type: FrameReset, Reason: w.Reason, First: w.First, Head: w.Head}, nil
	default:
		return Frame{Type: FrameUnknown}, nil
	}
}
