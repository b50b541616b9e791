package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// payload returns the JSON of a frame built by the server's encoder.
func payload(t testing.TB, f messages.Frame) []byte {
	t.Helper()
	b := f.Plain
	// Skip the WebSocket header (2 bytes, or 4 with a 16-bit length).
	switch n := b[1] & 0x7f; n {
	case 126:
		return b[4:]
	case 127:
		return b[10:]
	default:
		return b[2:]
	}
}

func TestParseFrame(t *testing.T) {
	ts := time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.UTC)
	sent := int64(1795867200123456789)
	cases := []struct {
		name string
		in   []byte
		want Frame
		err  bool
	}{
		{name: "harness event", in: payload(t, messages.EncodeEvent(messages.Event{Seq: 1001, Topic: "bench", Time: ts, Data: EventData(sent, 256)})),
			want: Frame{Type: FrameEvent, Seq: 1001, Sent: sent}},
		{name: "event with id", in: payload(t, messages.EncodeEvent(messages.Event{Seq: 7, Topic: "a.b", ID: `x","data":{"t":1}`, Time: ts, Data: EventData(sent, 0)})),
			want: Frame{Type: FrameEvent, Seq: 7, Sent: sent}},
		{name: "event with other data", in: payload(t, messages.EncodeEvent(messages.Event{Seq: 3, Topic: "x", Time: ts, Data: json.RawMessage(`{"any":"json","t":5}`)})),
			want: Frame{Type: FrameEvent, Seq: 3}},
		{name: "event with non-object data", in: payload(t, messages.EncodeEvent(messages.Event{Seq: 4, Topic: "x", Time: ts, Data: json.RawMessage(`[1,2]`)})),
			want: Frame{Type: FrameEvent, Seq: 4}},
		{name: "event with a string t", in: payload(t, messages.EncodeEvent(messages.Event{Seq: 5, Topic: "x", Time: ts, Data: json.RawMessage(`{"t":"soon"}`)})),
			want: Frame{Type: FrameEvent, Seq: 5}},
		{name: "event in another field order", in: []byte(`{"seq":9,"type":"event","data":{"t":12,"pad":""}}`),
			want: Frame{Type: FrameEvent, Seq: 9, Sent: 12}},
		{name: "welcome", in: payload(t, messages.EncodeWelcome(messages.Welcome{ConnID: "c-1", Org: "acme", User: "u", Epoch: "e-41a", Head: 1042, Resumed: true, ReplayFrom: 1001, ReplayTo: 1042})),
			want: Frame{Type: FrameWelcome, Epoch: "e-41a", Head: 1042, Resumed: true, ReplayFrom: 1001, ReplayTo: 1042}},
		{name: "live welcome", in: payload(t, messages.EncodeWelcome(messages.Welcome{ConnID: "c-1", Org: "acme", User: "u", Epoch: "e", Head: 0})),
			want: Frame{Type: FrameWelcome, Epoch: "e"}},
		{name: "reset", in: payload(t, messages.EncodeReset(messages.Reset{Reason: messages.ResetWindowExceeded, First: 2000, Head: 5230})),
			want: Frame{Type: FrameReset, Reason: "window_exceeded", First: 2000, Head: 5230}},
		{name: "unknown type", in: []byte(`{"type":"hello"}`), want: Frame{Type: FrameUnknown}},
		{name: "not JSON", in: []byte(`{"type":"event","seq":`), err: true},
		{name: "empty", in: nil, err: true},
		{name: "seq too long", in: []byte(`{"type":"event","seq":123456789012345678901,"data":1}`), err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFrame(tc.in)
			if tc.err {
				if !errors.Is(err, ErrFrame) {
					t.Fatalf("ParseFrame(%s) = %+v, %v; want ErrFrame", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFrame(%s): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseFrame(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzParseFrame checks that the allocation-free event path agrees with
// encoding/json on every input both accept, and never panics.
func FuzzParseFrame(f *testing.F) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Add(payload(f, messages.EncodeEvent(messages.Event{Seq: 1, Topic: "bench", Time: ts, Data: EventData(1795867200123456789, 64)})))
	f.Add(payload(f, messages.EncodeEvent(messages.Event{Seq: 2, Topic: "t", ID: "i", Time: ts, Data: json.RawMessage(`{"t":1}`)})))
	f.Add([]byte(`{"type":"event","seq":1,"data":{"t":-1}}`))
	f.Add([]byte(`{"type":"welcome","epoch":"e","head":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseFrame(b)
		fast, ok := parseEventFast(b)
		if !ok || !json.Valid(b) {
			return
		}
		if err != nil || got != fast {
			t.Fatalf("ParseFrame = %+v, %v; fast path %+v", got, err, fast)
		}
		slow, err := parseFrameJSON(b)
		if err != nil {
			return // e.g. a seq json cannot hold; the fast path is lenient
		}
		// Duplicate keys: json keeps the last, the fast path the first.
		if bytes.Count(b, []byte(`"seq"`)) > 1 || bytes.Count(b, []byte(`"t"`)) > 1 || bytes.Count(b, []byte(`"data"`)) > 1 || bytes.Count(b, []byte(`"type"`)) > 1 {
			return
		}
		if slow.Type != FrameEvent || slow.Seq != fast.Seq {
			t.Fatalf("json %+v, fast %+v for %s", slow, fast, b)
		}
		if fast.Sent != 0 && slow.Sent != fast.Sent {
			t.Fatalf("json sent %d, fast %d for %s", slow.Sent, fast.Sent, b)
		}
	})
}

func BenchmarkParseFrameEvent(b *testing.B) {
	p := payload(b, messages.EncodeEvent(messages.Event{Seq: 123456, Topic: "bench", Time: time.Now(), Data: EventData(time.Now().UnixNano(), 256)}))
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := ParseFrame(p); err != nil {
			b.Fatal(err)
		}
	}
}
