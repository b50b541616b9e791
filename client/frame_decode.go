package client

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/orgstream/orgstream/internal/jsonscan"
)

// The server's frames are decoded by a small hand-written scanner (the
// module's internal/jsonscan, shared with messages.ParsePublish) rather
// than encoding/json: it finds the members of the frame object in one pass
// and keeps byte ranges into the message, so an event costs no allocation
// beyond its ID string (topics are interned per connection, ts is parsed
// by hand). BenchmarkDecodeEvent measures it. It does not validate what it
// skips (unknown members, the event's data): the server's frames are
// trusted to be JSON, and a frame that is not is either refused or decoded
// into something meaningless, never a panic (FuzzDecodeFrame).

// errFrame is the cause of every decoding error.
var errFrame = errors.New("malformed frame")

// frameKind is the "type" of a frame.
type frameKind uint8

const (
	kindOther    frameKind = iota // a type this client does not know: ignored
	kindWelcome                   // "welcome"
	kindEvent                     // "event"
	kindReset                     // "reset"
	kindPresence                  // "presence"
)

// jstr is a JSON string value: the bytes between its quotes, still
// escaped when esc is set.
type jstr struct {
	raw []byte
	esc bool // has a backslash escape or bytes that are not valid UTF-8
	set bool // present and not null
}

// rawFrame is one decoded frame. Its slices point into the message; it is
// reused from frame to frame.
type rawFrame struct {
	kind frameKind

	// event
	seq   uint64
	topic jstr
	id    jstr
	ts    jstr
	data  []byte // the raw JSON value, nil when absent

	// welcome
	connID, org, user, epoch jstr
	head                     uint64
	resumed                  bool
	replayFrom, replayTo     uint64
	scoped                   bool
	protocol                 jstr

	// presence (and user)
	state jstr

	// reset (and head)
	reason jstr
	first  uint64
}

// decodeFrame decodes the frame object in b into f (every field reset
// first). Unknown members are skipped; a known member with a value of the
// wrong JSON type is an error; null counts as absent; when a member comes
// twice the last one wins (as with encoding/json).
func decodeFrame(b []byte, f *rawFrame) error {
	*f = rawFrame{}
	i := jsonscan.SkipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errFrame
	}
	var typ jstr
	err := scanObject(b, i, func(key jstr, v []byte) error {
		name, ok := keyName(key)
		if !ok {
			return nil
		}
		var err error
		switch string(name) {
		case "type":
			typ, err = stringValue(v)
		case "seq":
			f.seq, err = uintValue(v)
		case "topic":
			f.topic, err = stringValue(v)
		case "id":
			f.id, err = stringValue(v)
		case "ts":
			f.ts, err = stringValue(v)
		case "data":
			f.data = v
		case "conn_id":
			f.connID, err = stringValue(v)
		case "org":
			f.org, err = stringValue(v)
		case "user":
			f.user, err = stringValue(v)
		case "epoch":
			f.epoch, err = stringValue(v)
		case "head":
			f.head, err = uintValue(v)
		case "resumed":
			f.resumed, err = boolValue(v)
		case "scoped":
			f.scoped, err = boolValue(v)
		case "protocol":
			f.protocol, err = stringValue(v)
		case "state":
			f.state, err = stringValue(v)
		case "replay":
			f.replayFrom, f.replayTo, err = replayValue(v)
		case "reason":
			f.reason, err = stringValue(v)
		case "first":
			f.first, err = uintValue(v)
		}
		return err
	})
	if err != nil {
		return err
	}
	if !typ.set {
		return errFrame // no type
	}
	name, ok := keyName(typ)
	if !ok {
		return errFrame
	}
	switch string(name) {
	case "event":
		f.kind = kindEvent
	case "welcome":
		f.kind = kindWelcome
	case "reset":
		f.kind = kindReset
	case "presence":
		f.kind = kindPresence
	}
	return nil
}

// keyName returns a member's name (or a type); one with escapes is
// unescaped (they never occur in the server's frames, so the allocation
// does not matter).
func keyName(k jstr) ([]byte, bool) {
	if !k.esc {
		return k.raw, true
	}
	s, err := unescape(k)
	return []byte(s), err == nil
}

// scanObject calls fn for each member of the object whose '{' is at b[i],
// with the key and the value's bytes.
func scanObject(b []byte, i int, fn func(key jstr, val []byte) error) error {
	it := jsonscan.Members(b, i)
	for {
		k, v, ok := it.Next()
		if !ok {
			if it.Err() != nil {
				return errFrame
			}
			return nil
		}
		key := jstr{raw: b[k.Start+1 : k.End-1], esc: k.Esc, set: true}
		if err := fn(key, b[v.Start:v.End]); err != nil {
			return err
		}
	}
}

func isNull(v []byte) bool { return string(v) == "null" }

// stringValue decodes a string member (null: not set).
func stringValue(v []byte) (jstr, error) {
	if isNull(v) {
		return jstr{}, nil
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return jstr{}, errFrame
	}
	_, esc := jsonscan.String(v, 0)
	return jstr{raw: v[1 : len(v)-1], esc: esc, set: true}, nil
}

// uintValue decodes a non-negative integer member (null: 0). Like
// encoding/json into a uint64, it refuses signs, fractions, exponents and
// overflow.
func uintValue(v []byte) (uint64, error) {
	if isNull(v) {
		return 0, nil
	}
	if len(v) == 0 || len(v) > 20 || (v[0] == '0' && len(v) > 1) {
		return 0, errFrame
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errFrame
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, errFrame
		}
		n = n*10 + d
	}
	return n, nil
}

// boolValue decodes a boolean member (null: false).
func boolValue(v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errFrame
}

// replayValue decodes {"from":N,"to":M} (null: zeros).
func replayValue(v []byte) (from, to uint64, err error) {
	if isNull(v) {
		return 0, 0, nil
	}
	if len(v) == 0 || v[0] != '{' {
		return 0, 0, errFrame
	}
	err = scanObject(v, 0, func(key jstr, val []byte) error {
		name, ok := keyName(key)
		if !ok {
			return nil
		}
		var err error
		switch string(name) {
		case "from":
			from, err = uintValue(val)
		case "to":
			to, err = uintValue(val)
		}
		return err
	})
	return from, to, err
}

// unescape returns the string value of s (which must be set).
func unescape(s jstr) (string, error) {
	if !s.esc {
		return string(s.raw), nil
	}
	// Rare (the server's frames are plain ASCII but for ids and names that
	// need escapes): let encoding/json get every rule right. The quotes
	// around raw are its neighbours in the message.
	var out string
	q := make([]byte, 0, len(s.raw)+2)
	q = append(append(append(q, '"'), s.raw...), '"')
	if err := json.Unmarshal(q, &out); err != nil {
		return "", errFrame
	}
	return out, nil
}

// str returns the string value of s, "" when not set.
func (s jstr) str() (string, error) {
	if !s.set {
		return "", nil
	}
	return unescape(s)
}

// welcome builds the Welcome of a welcome frame.
func (f *rawFrame) welcome() (Welcome, error) {
	w := Welcome{Head: f.head, Resumed: f.resumed, ReplayFrom: f.replayFrom, ReplayTo: f.replayTo, Scoped: f.scoped}
	var err [5]error
	w.ConnID, err[0] = f.connID.str()
	w.Org, err[1] = f.org.str()
	w.User, err[2] = f.user.str()
	w.Epoch, err[3] = f.epoch.str()
	w.Protocol, err[4] = f.protocol.str()
	return w, errors.Join(err[:]...)
}

// presence builds the Presence of a presence frame.
func (f *rawFrame) presence() (Presence, error) {
	var p Presence
	var err [2]error
	p.User, err[0] = f.user.str()
	p.State, err[1] = f.state.str()
	if err[0] == nil && err[1] == nil && (p.User == "" || (p.State != PresenceOnline && p.State != PresenceOffline)) {
		return p, errFrame
	}
	return p, errors.Join(err[:]...)
}

// reset builds the Reset of a reset frame.
func (f *rawFrame) reset() (Reset, error) {
	r := Reset{First: f.first, Head: f.head}
	var err error
	r.Reason, err = f.reason.str()
	return r, err
}

// event fills ev from an event frame; topics come from the intern cache.
// ev.Data points into the message.
func (f *rawFrame) event(ev *Event, topics *internCache) error {
	if f.seq == 0 {
		return errFrame // seqs start at 1; 0 also means absent
	}
	ev.Seq = f.seq
	ev.Data = f.data
	var err error
	if ev.Topic, err = topics.get(f.topic); err != nil {
		return err
	}
	if ev.ID, err = f.id.str(); err != nil {
		return err
	}
	ev.TS, err = parseTS(f.ts)
	return err
}

// internCache keeps the last few topics of a connection, so that an event
// on a topic seen recently costs no string allocation.
type internCache struct {
	s    [8]string
	next uint8
}

func (c *internCache) get(v jstr) (string, error) {
	if !v.set {
		return "", nil
	}
	if v.esc {
		return unescape(v)
	}
	for _, s := range c.s {
		if s == string(v.raw) {
			return s, nil
		}
	}
	s := string(v.raw)
	c.s[c.next%uint8(len(c.s))] = s
	c.next++
	return s, nil
}

// parseTS parses the event's ts: the server's own layout
// (2006-01-02T15:04:05.000000Z) by hand, anything else with
// time.RFC3339Nano. Absent means the zero time.
func parseTS(v jstr) (time.Time, error) {
	if !v.set {
		return time.Time{}, nil
	}
	if t, ok := parseTSFast(v.raw); ok {
		return t, nil
	}
	s, err := unescape(v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errFrame
	}
	return t.UTC(), nil
}

// parseTSFast parses exactly YYYY-MM-DDTHH:MM:SS.ffffffZ.
func parseTSFast(b []byte) (time.Time, bool) {
	if len(b) != 27 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || b[19] != '.' || b[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	us, ok7 := num(b[20:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, us*1000, time.UTC)
	// time.Date normalizes (February 30th is March 2nd): out-of-range
	// dates go to the slow path, which refuses them.
	if t.Day() != d || int(t.Month()) != mo {
		return time.Time{}, false
	}
	return t, true
}
