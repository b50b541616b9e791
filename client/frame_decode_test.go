package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/orgstream/orgstream/messages"
)

// decoded is every value a frame carries, materialized; the decoder under
// test and the encoding/json oracle both produce one.
type decoded struct {
	Kind                     frameKind
	Seq                      uint64
	Topic, ID                string
	TS                       time.Time
	Data                     string
	HasData                  bool
	ConnID, Org, User, Epoch string
	Head                     uint64
	Resumed, Scoped          bool
	ReplayFrom, ReplayTo     uint64
	Reason, State            string
	First                    uint64
}

// decodeAll runs decodeFrame and materializes every field (the event's
// through rawFrame.event, as the client does).
func decodeAll(b []byte) (decoded, error) {
	var f rawFrame
	if err := decodeFrame(b, &f); err != nil {
		return decoded{}, err
	}
	d := decoded{Kind: f.kind, Seq: f.seq, Head: f.head, Resumed: f.resumed, Scoped: f.scoped,
		ReplayFrom: f.replayFrom, ReplayTo: f.replayTo, First: f.first,
		Data: string(f.data), HasData: f.data != nil}
	strs := []struct {
		dst *string
		src jstr
	}{{&d.Topic, f.topic}, {&d.ID, f.id}, {&d.ConnID, f.connID}, {&d.Org, f.org},
		{&d.User, f.user}, {&d.Epoch, f.epoch}, {&d.Reason, f.reason}, {&d.State, f.state}}
	for _, s := range strs {
		v, err := s.src.str()
		if err != nil {
			return decoded{}, err
		}
		*s.dst = v
	}
	if f.kind == kindEvent {
		var ev Event
		var topics internCache
		if err := f.event(&ev, &topics); err != nil {
			return decoded{}, err
		}
		if ev.Topic != d.Topic || ev.ID != d.ID || ev.Seq != d.Seq || string(ev.Data) != d.Data {
			return decoded{}, errors.New("event() disagrees with the raw frame")
		}
		d.TS = ev.TS
	}
	return d, nil
}

var errSkip = errors.New("oracle: not comparable")

// oracle decodes b with encoding/json: exact member names, null as absent,
// the last of repeated members (repeated known members are not compared:
// the decoder fails on the first bad one).
func oracle(b []byte) (decoded, error) {
	members, err := objectMembers(b)
	if err != nil {
		return decoded{}, err
	}
	var d decoded
	str := func(k string, dst *string) error {
		if raw, ok := members[k]; ok {
			var p *string
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			if p != nil {
				*dst = *p
			}
		}
		return nil
	}
	num := func(m map[string]json.RawMessage, k string, dst *uint64) error {
		if raw, ok := m[k]; ok {
			return json.Unmarshal(raw, dst)
		}
		return nil
	}
	var typ string
	var ts string
	errs := []error{
		str("type", &typ), str("topic", &d.Topic), str("id", &d.ID), str("ts", &ts),
		str("conn_id", &d.ConnID), str("org", &d.Org), str("user", &d.User),
		str("epoch", &d.Epoch), str("reason", &d.Reason), str("state", &d.State),
		num(members, "seq", &d.Seq), num(members, "head", &d.Head), num(members, "first", &d.First),
	}
	if raw, ok := members["resumed"]; ok {
		errs = append(errs, json.Unmarshal(raw, &d.Resumed))
	}
	if raw, ok := members["scoped"]; ok {
		errs = append(errs, json.Unmarshal(raw, &d.Scoped))
	}
	if raw, ok := members["replay"]; ok && string(raw) != "null" {
		rm, err := objectMembers(raw)
		errs = append(errs, err, num(rm, "from", &d.ReplayFrom), num(rm, "to", &d.ReplayTo))
	}
	if raw, ok := members["data"]; ok {
		d.Data, d.HasData = string(raw), true
	}
	if err := errors.Join(errs...); err != nil {
		return decoded{}, err
	}
	if _, ok := members["type"]; !ok || string(members["type"]) == "null" {
		return decoded{}, errors.New("oracle: no type")
	}
	d.Kind = map[string]frameKind{"event": kindEvent, "welcome": kindWelcome, "reset": kindReset, "presence": kindPresence}[typ]
	if d.Kind == kindEvent {
		if d.Seq == 0 {
			return decoded{}, errors.New("oracle: seq 0")
		}
		if _, ok := members["ts"]; ok && string(members["ts"]) != "null" {
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				return decoded{}, err
			}
			d.TS = t.UTC()
		}
	}
	return d, nil
}

// objectMembers returns the members of the JSON object b, errSkip when a
// known member is repeated.
func objectMembers(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("oracle: not an object")
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		key := k.(string)
		if _, dup := m[key]; dup && knownKeys[key] {
			return nil, errSkip
		}
		m[key] = v
	}
	return m, nil
}

var knownKeys = map[string]bool{"type": true, "seq": true, "topic": true, "id": true, "ts": true,
	"data": true, "conn_id": true, "org": true, "user": true, "epoch": true, "head": true,
	"resumed": true, "scoped": true, "state": true, "replay": true, "reason": true, "first": true, "from": true, "to": true}

// payload strips the WebSocket header off an encoded server frame.
func payload(t testing.TB, frame []byte) []byte {
	t.Helper()
	r := bytes.NewReader(frame)
	if _, err := ws.ReadHeader(r); err != nil {
		t.Fatal(err)
	}
	p, _ := io.ReadAll(r)
	return p
}

var ts0 = time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.UTC)

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	ev := messages.EncodeEvent(messages.Event{Seq: 1001, Topic: "orders.updated", ID: "k-1", Time: ts0, Data: json.RawMessage(`{"any":"json"}`)})
	wel := messages.EncodeWelcome(messages.Welcome{ConnID: "c-9f2", Org: "acme", User: "alice", Epoch: "e-41a", Head: 1042, Resumed: true, ReplayFrom: 1001, ReplayTo: 1042})
	rst := messages.EncodeReset(messages.Reset{Reason: messages.ResetWindowExceeded, First: 2000, Head: 5230})
	cases := []struct {
		name string
		in   string
		want decoded
		err  bool
	}{
		{name: "event from messages.EncodeEvent", in: string(payload(t, ev.Plain)),
			want: decoded{Kind: kindEvent, Seq: 1001, Topic: "orders.updated", ID: "k-1", TS: ts0, Data: `{"any":"json"}`, HasData: true}},
		{name: "welcome from messages.EncodeWelcome", in: string(payload(t, wel.Plain)),
			want: decoded{Kind: kindWelcome, ConnID: "c-9f2", Org: "acme", User: "alice", Epoch: "e-41a", Head: 1042, Resumed: true, ReplayFrom: 1001, ReplayTo: 1042}},
		{name: "reset from messages.EncodeReset", in: string(payload(t, rst.Plain)),
			want: decoded{Kind: kindReset, Reason: "window_exceeded", First: 2000, Head: 5230}},
		{name: "event without id, data null", in: `{"type":"event","seq":1,"topic":"t","ts":"2026-11-28T10:00:00.123456Z","data":null}`,
			want: decoded{Kind: kindEvent, Seq: 1, Topic: "t", TS: ts0, Data: "null", HasData: true}},
		{name: "whitespace, any order, unknown members skipped",
			in:   " {\n \"data\" : [1, {\"}\":\"]\"}] ,\"x\":{\"seq\":9},\"seq\" : 7 ,\"type\":\"event\",\"topic\":\"a.b\", \"y\": -1.5e3 }",
			want: decoded{Kind: kindEvent, Seq: 7, Topic: "a.b", Data: `[1, {"}":"]"}]`, HasData: true}},
		{name: "escaped strings", in: `{"type":"ev\u0065nt","seq":2,"topic":"\u0074","id":"a\"b\\c\u00e9"}`,
			want: decoded{Kind: kindEvent, Seq: 2, Topic: "t", ID: "a\"b\\cé"}},
		{name: "ts with an offset is UTC", in: `{"type":"event","seq":3,"ts":"2026-11-28T12:00:00.123456+02:00"}`,
			want: decoded{Kind: kindEvent, Seq: 3, TS: ts0}},
		{name: "ts without fraction", in: `{"type":"event","seq":3,"ts":"2026-11-28T10:00:00Z"}`,
			want: decoded{Kind: kindEvent, Seq: 3, TS: ts0.Truncate(time.Second)}},
		{name: "fresh welcome, replay null", in: `{"type":"welcome","epoch":"e","head":0,"resumed":false,"replay":null}`,
			want: decoded{Kind: kindWelcome, Epoch: "e"}},
		{name: "scoped welcome", in: `{"type":"welcome","epoch":"e","head":3,"resumed":false,"scoped":true}`,
			want: decoded{Kind: kindWelcome, Epoch: "e", Head: 3, Scoped: true}},
		{name: "presence", in: `{"type":"presence","user":"alice","state":"online"}`,
			want: decoded{Kind: kindPresence, User: "alice", State: "online"}},
		{name: "scoped not a bool", in: `{"type":"welcome","scoped":"yes"}`, err: true},
		{name: "unknown type", in: `{"type":"hello","seq":5}`, want: decoded{Kind: kindOther, Seq: 5}},
		{name: "max uint64", in: `{"type":"reset","head":18446744073709551615}`, want: decoded{Kind: kindReset, Head: 1<<64 - 1}},

		{name: "empty", in: ``, err: true},
		{name: "not an object", in: `[1]`, err: true},
		{name: "no type", in: `{"seq":1}`, err: true},
		{name: "type null", in: `{"type":null}`, err: true},
		{name: "type not a string", in: `{"type":1}`, err: true},
		{name: "negative seq", in: `{"type":"event","seq":-1}`, err: true},
		{name: "fractional seq", in: `{"type":"event","seq":1.0}`, err: true},
		{name: "exponent seq", in: `{"type":"event","seq":1e2}`, err: true},
		{name: "string seq", in: `{"type":"event","seq":"1"}`, err: true},
		{name: "seq overflow", in: `{"type":"event","seq":18446744073709551616}`, err: true},
		{name: "seq 0", in: `{"type":"event","seq":0}`, err: true},
		{name: "topic not a string", in: `{"type":"event","seq":1,"topic":5}`, err: true},
		{name: "bad ts", in: `{"type":"event","seq":1,"ts":"yesterday"}`, err: true},
		{name: "February 30th", in: `{"type":"event","seq":1,"ts":"2026-02-30T10:00:00.000000Z"}`, err: true},
		{name: "resumed not a bool", in: `{"type":"welcome","resumed":"yes"}`, err: true},
		{name: "replay not an object", in: `{"type":"welcome","replay":[1,2]}`, err: true},
		{name: "unterminated string", in: `{"type":"event","topic":"abc`, err: true},
		{name: "unterminated object", in: `{"type":"event","seq":1`, err: true},
		{name: "unterminated data", in: `{"type":"event","seq":1,"data":{"a":[1}`, err: true},
		{name: "missing colon", in: `{"type" "event"}`, err: true},
		{name: "missing value", in: `{"type":"event","seq":}`, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll([]byte(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !got.TS.Equal(tc.want.TS) {
				t.Fatalf("ts %v, want %v", got.TS, tc.want.TS)
			}
			got.TS, tc.want.TS = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			// Where encoding/json can tell, it agrees.
			if json.Valid([]byte(tc.in)) {
				checkOracle(t, []byte(tc.in))
			}
		})
	}
}

// checkOracle compares the decoder with encoding/json on valid JSON.
func checkOracle(t *testing.T, b []byte) {
	t.Helper()
	want, werr := oracle(b)
	if errors.Is(werr, errSkip) {
		return
	}
	got, gerr := decodeAll(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: decoder error %v, encoding/json error %v", b, gerr, werr)
	}
	if werr != nil {
		return
	}
	if !got.TS.Equal(want.TS) {
		t.Fatalf("%q: ts %v, encoding/json %v", b, got.TS, want.TS)
	}
	got.TS, want.TS = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecoder       %+v\nencoding/json %+v", b, got, want)
	}
}

// FuzzDecodeFrame: the decoder never panics, agrees with encoding/json on
// valid JSON, and decodes what messages encodes.
func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range []messages.Frame{
		messages.EncodeEvent(messages.Event{Seq: 1, Topic: "orders.updated", ID: "k\"1\u2028", Time: ts0, Data: json.RawMessage(`{"a":[1,"]}"]}`)}),
		messages.EncodeEvent(messages.Event{Seq: 1<<64 - 1, Topic: "t", Time: ts0}),
		messages.EncodeWelcome(messages.Welcome{ConnID: "c", Org: "o", User: "u\x01", Epoch: "e", Head: 9, Resumed: true, ReplayFrom: 10, ReplayTo: 9}),
		messages.EncodeReset(messages.Reset{Reason: "epoch_changed", First: 1, Head: 2}),
	} {
		f.Add(payload(f, fr.Plain))
	}
	for _, s := range []string{
		`{"type":"event","seq":1,"ts":"2026-11-28T12:00:00.1+02:00","data":"x"}`,
		`{"type":"\u0065vent","se\u0071":1,"topic":"\xff"}`,
		`{"type":"welcome","replay":{"from":1,"to":2,"from":3}}`,
		`{"type":"event","seq":1,"seq":"x"}`,
		`{"type":"event","seq":01}`, `{"type":"reset","head":-0}`, `{}`, `{"type":"event"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeAll(b) // must not panic
		if json.Valid(b) {
			checkOracle(t, b)
		}
		// What the decoder accepts as an event survives a round trip
		// through messages.EncodeEvent (when its parts are encodable).
		if err == nil && got.Kind == kindEvent && got.HasData && json.Valid([]byte(got.Data)) &&
			!strings.ContainsRune(got.Topic+got.ID, 0xfffd) {
			enc := messages.EncodeEvent(messages.Event{Seq: got.Seq, Topic: got.Topic, ID: got.ID, Time: got.TS, Data: json.RawMessage(got.Data)})
			again, err := decodeAll(payload(t, enc.Plain))
			if err != nil {
				t.Fatalf("re-encoded %q: %v", payload(t, enc.Plain), err)
			}
			if again.Seq != got.Seq || again.Topic != got.Topic || again.ID != got.ID || again.Data != got.Data ||
				!again.TS.Equal(got.TS.Truncate(time.Microsecond)) {
				t.Fatalf("round trip: %+v, then %+v", got, again)
			}
		}
	})
}

// BenchmarkDecodeEvent decodes an event frame as the read loop does
// (decodeFrame, then rawFrame.event into a reused Event): no allocation
// without an id, one (the id string) with one.
func BenchmarkDecodeEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		ev   messages.Event
	}{
		{"small", messages.Event{Seq: 123456, Topic: "orders.updated", Time: ts0, Data: json.RawMessage(`{"order":42,"status":"shipped","items":[1,2,3]}`)}},
		{"small-with-id", messages.Event{Seq: 123456, Topic: "orders.updated", ID: "order-42-shipped", Time: ts0, Data: json.RawMessage(`{"order":42,"status":"shipped","items":[1,2,3]}`)}},
		{"1KiB", messages.Event{Seq: 123456, Topic: "orders.updated", Time: ts0, Data: json.RawMessage(`{"pad":"` + strings.Repeat("x", 1000) + `","n":[1,2,{"a":"}"}]}`)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := payload(b, messages.EncodeEvent(bc.ev).Plain)
			var f rawFrame
			var ev Event
			var topics internCache
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeFrame(p, &f); err != nil {
					b.Fatal(err)
				}
				if err := f.event(&ev, &topics); err != nil {
					b.Fatal(err)
				}
			}
			if ev.Seq != bc.ev.Seq || ev.Topic != bc.ev.Topic || !ev.TS.Equal(bc.ev.Time) {
				b.Fatalf("decoded %+v", ev)
			}
		})
	}
}

func TestPresenceFrame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Presence
		err  bool
	}{
		{in: `{"type":"presence","user":"alice","state":"online"}`, want: Presence{User: "alice", State: PresenceOnline}},
		{in: `{"type":"presence","user":"b\u00e9","state":"offline"}`, want: Presence{User: "bé", State: PresenceOffline}},
		{in: `{"type":"presence","user":"alice","state":"away"}`, err: true},
		{in: `{"type":"presence","state":"online"}`, err: true},
		{in: `{"type":"presence","user":"alice"}`, err: true},
	}
	for _, tc := range cases {
		var f rawFrame
		if err := decodeFrame([]byte(tc.in), &f); err != nil || f.kind != kindPresence {
			t.Fatalf("%s: decode: %v, kind %d", tc.in, err, f.kind)
		}
		got, err := f.presence()
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
