package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrCentrifugoFrame is a Centrifugo JSON protocol message the harness
// cannot read.
var ErrCentrifugoFrame = errors.New("bench: malformed centrifugo message")

// CentKind is what a Centrifugo JSON protocol message from the server is.
type CentKind uint8

// Kinds of CentMsg.
const (
	CentOther      CentKind = iota // a push or reply the harness ignores
	CentPing                       // {}: the server's ping, answered with {}
	CentReply                      // a reply to a command (ID set), maybe an error
	CentPub                        // a publication pushed on a channel
	CentDisconnect                 // a disconnect push
)

// CentMsg is what the harness reads from one message of Centrifugo's JSON
// protocol (one line of a WebSocket frame: the server joins several
// messages with '\n').
type CentMsg struct {
	Kind CentKind
	// ID is a reply's command id.
	ID uint32
	// Sent is a publication's send time (unix ns) when its data is an
	// object whose first member is "t" (as the harness publishes), else 0.
	Sent int64
	// Code and Reason are a reply's error or a disconnect's.
	Code   uint32
	Reason string
}

var (
	centPubPrefix = []byte(`{"push":{"channel":"`)
	centPubData   = []byte(`"pub":{"data":{"t":`)
)

// nextLine splits payload at its first newline: Centrifugo's JSON protocol
// puts one message a line in a frame.
func nextLine(payload []byte) (line, rest []byte) {
	if i := bytes.IndexByte(payload, '\n'); i >= 0 {
		return payload[:i], payload[i+1:]
	}
	return payload, nil
}

// EachCentMsg calls fn for every message of a frame's payload, in order,
// and stops at the first error (a malformed message, or fn's).
func EachCentMsg(payload []byte, fn func(CentMsg) error) error {
	for len(payload) > 0 {
		var line []byte
		if line, payload = nextLine(payload); len(line) == 0 {
			continue
		}
		m, err := ParseCentMsg(line)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// ParseCentMsg decodes one message. A publication laid out as Centrifugo
// writes it ({"push":{"channel":"…","pub":{"data":{"t":…) is read without
// allocating; anything else goes through encoding/json.
func ParseCentMsg(b []byte) (CentMsg, error) {
	if m, ok := parseCentPubFast(b); ok {
		return m, nil
	}
	return parseCentMsgJSON(b)
}

// parseCentPubFast reads the send time of a publication push. ok is false
// when the layout differs.
func parseCentPubFast(b []byte) (CentMsg, bool) {
	if !bytes.HasPrefix(b, centPubPrefix) || b[len(b)-1] != '}' {
		return CentMsg{}, false
	}
	rest := b[len(centPubPrefix):]
	// The channel is a JSON string: a quote in it is escaped, so the first
	// unescaped quote ends it.
	end := 0
	for ; end < len(rest); end++ {
		if rest[end] == '\\' {
			end++
			continue
		}
		if rest[end] == '"' {
			break
		}
	}
	if end >= len(rest) {
		return CentMsg{}, false
	}
	rest = rest[end+1:]
	if len(rest) == 0 || rest[0] != ',' || !bytes.HasPrefix(rest[1:], centPubData) {
		return CentMsg{}, false
	}
	rest = rest[1+len(centPubData):]
	t, n, ok := parseUint(rest)
	if !ok || n >= len(rest) || (rest[n] != ',' && rest[n] != '}') || t > 1<<63-1 {
		return CentMsg{}, false
	}
	return CentMsg{Kind: CentPub, Sent: int64(t)}, true
}

// centWire is every field of a server message the harness reads.
type centWire struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    uint32 `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Push *struct {
		Channel string `json:"channel"`
		Pub     *struct {
			Data json.RawMessage `json:"data"`
		} `json:"pub"`
		Disconnect *struct {
			Code   uint32 `json:"code"`
			Reason string `json:"reason"`
		} `json:"disconnect"`
	} `json:"push"`
}

func parseCentMsgJSON(b []byte) (CentMsg, error) {
	var w centWire
	if err := json.Unmarshal(b, &w); err != nil {
		return CentMsg{}, fmt.Errorf("%w: %w", ErrCentrifugoFrame, err)
	}
	switch {
	case w.ID != 0:
		m := CentMsg{Kind: CentReply, ID: w.ID}
		if w.Error != nil {
			m.Code, m.Reason = w.Error.Code, w.Error.Message
		}
		return m, nil
	case w.Push != nil && w.Push.Pub != nil:
		m := CentMsg{Kind: CentPub}
		var d struct {
			T int64 `json:"t"`
		}
		if len(w.Push.Pub.Data) > 0 && w.Push.Pub.Data[0] == '{' && json.Unmarshal(w.Push.Pub.Data, &d) == nil {
			m.Sent = d.T
		}
		return m, nil
	case w.Push != nil && w.Push.Disconnect != nil:
		return CentMsg{Kind: CentDisconnect, Code: w.Push.Disconnect.Code, Reason: w.Push.Disconnect.Reason}, nil
	case w.Push == nil && w.Error == nil && bytes.Equal(bytes.TrimSpace(b), []byte("{}")):
		return CentMsg{Kind: CentPing}, nil
	}
	return CentMsg{Kind: CentOther}, nil
}
