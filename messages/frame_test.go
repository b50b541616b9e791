package messages

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

var ts0 = time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.UTC)

// frameCases is shared by the exact-output test, the decoding tests and the
// fuzz seed corpus.
var frameCases = []struct {
	name  string
	frame func() Frame
	want  string
	keys  []string // top-level keys in order
}{
	{
		name: "event protocol example",
		frame: func() Frame {
			return EncodeEvent(Event{
				Seq:   1001,
				Topic: "orders.updated",
				ID:    "optional-publisher-id",
				Time:  ts0,
				Data:  json.RawMessage(`{"any":"json"}`),
			})
		},
		want: `{"type":"event","seq":1001,"topic":"orders.updated","ts":"2026-11-28T10:00:00.123456Z","id":"optional-publisher-id","data":{"any":"json"}}`,
		keys: []string{"type", "seq", "topic", "ts", "id", "data"},
	},
	{
		name: "event without id",
		frame: func() Frame {
			return EncodeEvent(Event{Seq: 1, Topic: "t", Time: ts0, Data: json.RawMessage(`[1, 2]`)})
		},
		want: `{"type":"event","seq":1,"topic":"t","ts":"2026-11-28T10:00:00.123456Z","data":[1, 2]}`,
		keys: []string{"type", "seq", "topic", "ts", "data"},
	},
	{
		name: "event time in another zone, nanoseconds truncated",
		frame: func() Frame {
			zone := time.FixedZone("X", 2*3600)
			tm := time.Date(2026, 1, 2, 3, 4, 5, 999999999, zone)
			return EncodeEvent(Event{Seq: 18446744073709551615, Topic: "t", Time: tm, Data: json.RawMessage(`null`)})
		},
		want: `{"type":"event","seq":18446744073709551615,"topic":"t","ts":"2026-01-02T01:04:05.999999Z","data":null}`,
		keys: []string{"type", "seq", "topic", "ts", "data"},
	},
	{
		name: "event whole second and empty data",
		frame: func() Frame {
			return EncodeEvent(Event{Seq: 0, Topic: "t", Time: time.Unix(0, 0)})
		},
		want: `{"type":"event","seq":0,"topic":"t","ts":"1970-01-01T00:00:00.000000Z","data":null}`,
		keys: []string{"type", "seq", "topic", "ts", "data"},
	},
	{
		name: "event id escaped",
		frame: func() Frame {
			return EncodeEvent(Event{
				Seq:   2,
				Topic: "t",
				ID:    "q\"b\\s/\n\r\t\x01\x1f\x7fé<>&\u2028\u2029\xff日",
				Time:  ts0,
				Data:  json.RawMessage(`"x"`),
			})
		},
		want: `{"type":"event","seq":2,"topic":"t","ts":"2026-11-28T10:00:00.123456Z","id":"q\"b\\s/\n\r\t\u0001\u001f` + "\x7fé<>&" + `\u2028\u2029\ufffd日","data":"x"}`,
		keys: []string{"type", "seq", "topic", "ts", "id", "data"},
	},
	{
		name: "welcome protocol example",
		frame: func() Frame {
			return EncodeWelcome(Welcome{
				ConnID:     "c-9f2",
				Org:        "acme",
				User:       "alice",
				Epoch:      "e-41a",
				Head:       1042,
				Resumed:    true,
				ReplayFrom: 1001,
				ReplayTo:   1042,
			})
		},
		want: `{"type":"welcome","conn_id":"c-9f2","org":"acme","user":"alice","epoch":"e-41a","head":1042,"resumed":true,"protocol":"2","replay":{"from":1001,"to":1042}}`,
		keys: []string{"type", "conn_id", "org", "user", "epoch", "head", "resumed", "protocol", "replay"},
	},
	{
		name: "welcome not resumed",
		frame: func() Frame {
			return EncodeWelcome(Welcome{ConnID: "c-1", Org: "acme", User: "bob", Epoch: "e-1", ReplayFrom: 5, ReplayTo: 9})
		},
		want: `{"type":"welcome","conn_id":"c-1","org":"acme","user":"bob","epoch":"e-1","head":0,"resumed":false,"protocol":"2"}`,
		keys: []string{"type", "conn_id", "org", "user", "epoch", "head", "resumed", "protocol"},
	},
	{
		name: "welcome scoped and resumed",
		frame: func() Frame {
			return EncodeWelcome(Welcome{ConnID: "c-2", Org: "acme", User: "al", Epoch: "e-1", Head: 9, Resumed: true, ReplayFrom: 4, ReplayTo: 9, Scoped: true})
		},
		want: `{"type":"welcome","conn_id":"c-2","org":"acme","user":"al","epoch":"e-1","head":9,"resumed":true,"protocol":"2","scoped":true,"replay":{"from":4,"to":9}}`,
		keys: []string{"type", "conn_id", "org", "user", "epoch", "head", "resumed", "protocol", "scoped", "replay"},
	},
	{
		name: "event with to: recipients not in the frame",
		frame: func() Frame {
			return EncodeEvent(Event{Seq: 3, Topic: "t", Time: ts0, Data: json.RawMessage(`1`), To: []string{"alice", "bob"}})
		},
		want: `{"type":"event","seq":3,"topic":"t","ts":"2026-11-28T10:00:00.123456Z","data":1}`,
		keys: []string{"type", "seq", "topic", "ts", "data"},
	},
	{
		name: "welcome escaped user, empty replay",
		frame: func() Frame {
			return EncodeWelcome(Welcome{ConnID: "", Org: "o", User: "a\"l\\i\nce", Epoch: "é", Head: 7, Resumed: true, ReplayFrom: 8, ReplayTo: 7})
		},
		want: `{"type":"welcome","conn_id":"","org":"o","user":"a\"l\\i\nce","epoch":"é","head":7,"resumed":true,"protocol":"2","replay":{"from":8,"to":7}}`,
		keys: []string{"type", "conn_id", "org", "user", "epoch", "head", "resumed", "protocol", "replay"},
	},
	{
		name: "reset protocol example",
		frame: func() Frame {
			return EncodeReset(Reset{Reason: ResetWindowExceeded, First: 2000, Head: 5230})
		},
		want: `{"type":"reset","reason":"window_exceeded","first":2000,"head":5230}`,
		keys: []string{"type", "reason", "first", "head"},
	},
	{
		name: "reset epoch changed",
		frame: func() Frame {
			return EncodeReset(Reset{Reason: ResetEpochChanged, First: 1, Head: 0})
		},
		want: `{"type":"reset","reason":"epoch_changed","first":1,"head":0}`,
		keys: []string{"type", "reason", "first", "head"},
	},
	{
		name: "reset invalid position",
		frame: func() Frame {
			return EncodeReset(Reset{Reason: ResetInvalidPosition, First: 3, Head: 4})
		},
		want: `{"type":"reset","reason":"invalid_position","first":3,"head":4}`,
		keys: []string{"type", "reason", "first", "head"},
	},
}

func TestEncodeFrames(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.frame()
			payload := framePayload(t, f.Plain)
			if string(payload) != tc.want {
				t.Fatalf(
					"payload\n got %s\nwant %s",
					payload, tc.want,
				)
			}
			if !json.Valid(payload) || !utf8.Valid(payload) {
				t.Fatal("payload is not valid UTF-8 JSON")
			}
			if keys := topKeys(t, payload); strings.Join(keys, ",") != strings.Join(tc.keys, ",") {
				t.Fatalf(
					"keys %v, want %v",
					keys, tc.keys,
				)
			}
			if f.Deflated != nil {
				t.Fatal("small frame has a deflated variant")
			}
			if got := f.For(EncWSDeflate); !bytes.Equal(got, f.Plain) {
				t.Fatal("For(true) without Deflated must be Plain")
			}
		})
	}
}

func TestEncodeEventSeq(t *testing.T) {
	f := EncodeEvent(Event{Seq: 77, Topic: "t", Time: ts0, Data: json.RawMessage(`1`)})
	if f.Seq != 77 {
		t.Fatalf(
			"Seq = %d, want 77",
			f.Seq,
		)
	}
	if w := EncodeWelcome(Welcome{Head: 5}); w.Seq != 0 {
		t.Fatalf(
			"welcome Seq = %d, want 0",
			w.Seq,
		)
	}
}

// eventOfPayload returns an event whose encoded payload is n bytes long
// (n >= 100), with compressible data.
func eventOfPayload(t testing.TB, n int) Event {
	ev := Event{Seq: 1, Topic: "orders.updated", Time: ts0, Data: json.RawMessage(`""`)}
	base := len(framePayload(t, EncodeEvent(ev).Plain))
	ev.Data = json.RawMessage(`"` + strings.Repeat("abcdefgh", n)[:n-base] + `"`)
	return ev
}

func TestEncodeSizes(t *testing.T) {
	cases := []struct {
		name       string
		payload    int
		headerSize int
		deflated   bool
	}{
		{
			name:       "7-bit length max",
			payload:    125,
			headerSize: 2,
		},
		{
			name:       "16-bit length min",
			payload:    126,
			headerSize: 4,
		},
		{
			name:       "at the threshold",
			payload:    DeflateThreshold,
			headerSize: 4,
		},
		{
			name:       "over the threshold",
			payload:    DeflateThreshold + 1,
			headerSize: 4,
			deflated:   true,
		},
		{
			name:       "16-bit length max",
			payload:    65535,
			headerSize: 4,
			deflated:   true,
		},
		{
			name:       "64-bit length",
			payload:    65536,
			headerSize: 10,
			deflated:   true,
		},
		{
			name:       "one MiB",
			payload:    1 << 20,
			headerSize: 10,
			deflated:   true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := EncodeEvent(eventOfPayload(t, tc.payload))
			if len(f.Plain) != tc.headerSize+tc.payload {
				t.Fatalf(
					"frame is %d bytes, want %d+%d",
					len(f.Plain), tc.headerSize, tc.payload,
				)
			}
			payload := framePayload(t, f.Plain)
			if (f.Deflated != nil) != tc.deflated {
				t.Fatalf(
					"deflated = %v, want %v",
					f.Deflated != nil, tc.deflated,
				)
			}
			if !tc.deflated {
				return
			}
			if got := inflateFrame(t, f.Deflated); !bytes.Equal(got, payload) {
				t.Fatal("inflated payload differs from the plain one")
			}
			if got := readWsutil(t, f.Deflated); !bytes.Equal(got, payload) {
				t.Fatal("wsutil+wsflate reader payload differs from the plain one")
			}
			if len(f.Deflated) >= len(f.Plain) {
				t.Errorf(
					"deflated %d bytes, plain %d",
					len(f.Deflated), len(f.Plain),
				)
			}
			if !bytes.Equal(f.For(EncWSDeflate), f.Deflated) || !bytes.Equal(f.For(EncWS), f.Plain) {
				t.Fatal("For picks the wrong variant")
			}
		})
	}
}

// Without context takeover, each deflated frame stands alone: a fresh
// inflater decodes any of them, in any order, and concurrent encoders share
// no state.
func TestDeflateNoContextTakeover(t *testing.T) {
	evs := []Event{eventOfPayload(t, 3000), eventOfPayload(t, 5000), eventOfPayload(t, 3000)}
	frames := make([]Frame, len(evs))
	done := make(chan struct{})
	for i := range evs {
		go func() {
			defer func() { done <- struct{}{} }()
			frames[i] = EncodeEvent(evs[i])
		}()
	}
	for range evs {
		<-done
	}
	for i := len(frames) - 1; i >= 0; i-- {
		want := framePayload(t, frames[i].Plain)
		if got := inflateFrame(t, frames[i].Deflated); !bytes.Equal(got, want) {
			t.Fatalf(
				"frame %d: inflated payload differs",
				i,
			)
		}
	}
	if !bytes.Equal(frames[0].Deflated, frames[2].Deflated) {
		t.Fatal("equal events gave different deflated frames: state leaked between messages")
	}
}

func TestEncodeWelcomeDeflated(t *testing.T) {
	f := EncodeWelcome(Welcome{ConnID: "c", Org: "o", User: strings.Repeat("u", 2000), Epoch: "e"})
	if f.Deflated == nil {
		t.Fatal("large welcome has no deflated variant")
	}
	if got, want := inflateFrame(t, f.Deflated), framePayload(t, f.Plain); !bytes.Equal(got, want) {
		t.Fatal("inflated welcome differs")
	}
}

func TestQuoted(t *testing.T) {
	cases := []string{
		"",
		"plain",
		"\"\\/\b\f\n\r\t",
		"\x00\x01\x1f\x20\x7e\x7f",
		"é日本語🙂",
		"\u2028\u2029",
		"\xff\xfe",
		"a\xe2\x82",        // truncated rune
		"\xed\xa0\x80",     // surrogate in UTF-8
		"\xf4\x90\x80\x80", // beyond U+10FFFF
		"<script>&</script>",
	}
	for _, s := range cases {
		checkQuoted(t, s)
	}
}

func checkQuoted(t *testing.T, s string) {
	t.Helper()
	q := appendQuoted(nil, s)
	if len(q) != quotedLen(s) {
		t.Fatalf(
			"quotedLen(%q) = %d, encoded %d bytes: %s",
			s, quotedLen(s), len(q), q,
		)
	}
	if !utf8.Valid(q) {
		t.Fatalf(
			"encoding of %q is not valid UTF-8: %q",
			s, q,
		)
	}
	var back string
	if err := json.Unmarshal(q, &back); err != nil {
		t.Fatalf(
			"encoding of %q is not a JSON string: %s: %v",
			s, q, err,
		)
	}
	// Each invalid byte becomes U+FFFD, as a []rune conversion does.
	if want := string([]rune(s)); back != want {
		t.Fatalf(
			"round trip of %q = %q, want %q",
			s, back, want,
		)
	}
}

func FuzzQuoted(f *testing.F) {
	f.Add("")
	f.Add("a\"b\\c\n\x00\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoted(t, s)
	})
}

func FuzzEncodeEvent(f *testing.F) {
	f.Add(uint64(1001), "orders.updated", "optional-publisher-id", []byte(`{"any":"json"}`), ts0.UnixNano())
	f.Add(uint64(0), "", "", []byte(``), int64(0))
	f.Add(uint64(1), "t\"\n", "\xff\u2028", []byte(`[1,2,{"a":null}]`), int64(-1))
	f.Add(uint64(2), "big", "", []byte(`"`+strings.Repeat("xyz", 600)+`"`), int64(1<<62))
	f.Fuzz(func(t *testing.T, seq uint64, topic, id string, data []byte, nanos int64) {
		if !json.Valid(data) || !utf8.Valid(data) {
			data, _ = json.Marshal(string(data))
		}
		tm := time.Unix(0, nanos)
		fr := EncodeEvent(Event{Seq: seq, Topic: topic, ID: id, Time: tm, Data: data})
		payload := framePayload(t, fr.Plain)
		if !json.Valid(payload) || !utf8.Valid(payload) {
			t.Fatalf(
				"payload is not valid UTF-8 JSON: %q",
				payload,
			)
		}
		var got struct {
			Type  string          `json:"type"`
			Seq   uint64          `json:"seq"`
			Topic string          `json:"topic"`
			TS    string          `json:"ts"`
			ID    *string         `json:"id"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(payload, &got); err != nil {
			t.Fatal(err)
		}
		// Data is written verbatim; the decoder drops surrounding space.
		wantData := bytes.TrimSpace(data)
		if !bytes.Contains(payload, data) {
			t.Fatalf(
				"payload %q does not hold data %q verbatim",
				payload, data,
			)
		}
		if len(wantData) == 0 {
			wantData = []byte("null")
		}
		if got.Type != "event" || got.Seq != seq || got.Topic != string([]rune(topic)) || !bytes.Equal(got.Data, wantData) {
			t.Fatalf(
				"decoded %+v from %q",
				got, payload,
			)
		}
		if (got.ID == nil) != (id == "") || got.ID != nil && *got.ID != string([]rune(id)) {
			t.Fatalf(
				"id decoded as %v, want %q",
				got.ID, id,
			)
		}
		pt, err := time.Parse(time.RFC3339Nano, got.TS)
		if err != nil || !pt.Equal(tm.Truncate(time.Microsecond)) || len(got.TS) != len("2006-01-02T15:04:05.000000Z") {
			t.Fatalf(
				"ts %q for %v: %v",
				got.TS, tm.UTC(), err,
			)
		}
		if (fr.Deflated != nil) != (len(payload) > DeflateThreshold) {
			t.Fatalf(
				"deflated = %v for a %d-byte payload",
				fr.Deflated != nil, len(payload),
			)
		}
		if fr.Deflated != nil && !bytes.Equal(inflateFrame(t, fr.Deflated), payload) {
			t.Fatal("inflated payload differs")
		}
	})
}

// framePayload checks that b is exactly one final, unmasked text frame
// without RSV bits, and returns its payload.
func framePayload(t testing.TB, b []byte) []byte {
	t.Helper()
	f, rest := readFrame(t, b)
	h := f.Header
	if !h.Fin || h.OpCode != ws.OpText || h.Masked || h.Rsv != 0 {
		t.Fatalf(
			"header %+v, want FIN text unmasked without RSV",
			h,
		)
	}
	if rest != 0 {
		t.Fatalf(
			"%d bytes after the frame",
			rest,
		)
	}
	return f.Payload
}

// readFrame reads one frame from b, whose declared length must fit in b,
// and returns it with the count of bytes left after it.
func readFrame(t testing.TB, b []byte) (ws.Frame, int) {
	t.Helper()
	r := bytes.NewReader(b)
	h, err := ws.ReadHeader(r)
	if err != nil {
		t.Fatalf(
			"read header: %v",
			err,
		)
	}
	if h.Length < 0 || h.Length > int64(r.Len()) {
		t.Fatalf(
			"header declares %d payload bytes, %d present",
			h.Length, r.Len(),
		)
	}
	payload := make([]byte, h.Length)
	_, _ = io.ReadFull(r, payload)
	return ws.Frame{Header: h, Payload: payload}, r.Len()
}

// inflateFrame checks that b is one final, unmasked, compressed text frame
// and inflates it with the standard library's flate (gobwas/ws/wsflate's
// default helper), independent of the compressor used to build it.
func inflateFrame(t testing.TB, b []byte) []byte {
	t.Helper()
	f, rest := readFrame(t, b)
	h := f.Header
	if !h.Fin || h.OpCode != ws.OpText || h.Masked || h.Rsv != ws.Rsv(true, false, false) || rest != 0 {
		t.Fatalf(
			"header %+v (%d trailing bytes), want FIN text unmasked RSV1",
			h, rest,
		)
	}
	f, err := wsflate.DecompressFrame(f)
	if err != nil {
		t.Fatalf(
			"decompress: %v",
			err,
		)
	}
	return f.Payload
}

// readWsutil reads a compressed frame the way a gobwas/ws client does:
// wsutil.Reader with the permessage-deflate extension state and a
// wsflate.Reader over it.
func readWsutil(t testing.TB, b []byte) []byte {
	t.Helper()
	var state wsflate.MessageState
	rd := wsutil.Reader{
		Source:     bytes.NewReader(b),
		State:      ws.StateClientSide | ws.StateExtended,
		CheckUTF8:  false,
		Extensions: []wsutil.RecvExtension{&state},
	}
	h, err := rd.NextFrame()
	if err != nil {
		t.Fatalf(
			"next frame: %v",
			err,
		)
	}
	if h.OpCode != ws.OpText || !state.IsCompressed() {
		t.Fatalf(
			"header %+v compressed=%v",
			h, state.IsCompressed(),
		)
	}
	fr := wsflate.NewReader(&rd, func(r io.Reader) wsflate.Decompressor {
		return flate.NewReader(r)
	})
	out, err := io.ReadAll(fr)
	if err != nil {
		t.Fatalf(
			"inflate: %v",
			err,
		)
	}
	return out
}

// topKeys returns the keys of the top-level object in order.
func topKeys(t testing.TB, payload []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	var keys []string
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
				expectKey = v == '{' && depth == 1
			} else {
				depth--
				expectKey = depth == 1
			}
			continue
		case string:
			if depth == 1 && expectKey {
				keys = append(keys, v)
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
}

func benchData(n int) json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"order":{"id":"ord-000123","items":[`)
	for i := 0; b.Len() < n-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%05d","qty":%d,"price":%d.99}`, i*7919%100000, i%9+1, i%500)
	}
	b.WriteString(`],"status":"paid"}}`)
	return json.RawMessage(b.String())
}

func BenchmarkEncodeEvent(b *testing.B) {
	for _, size := range []int{256, 4096} {
		ev := Event{Seq: 123456, Topic: "orders.updated", ID: "3f1c9a2e-7d4b-4c1a", Time: ts0, Data: benchData(size)}
		b.Run(fmt.Sprintf("data=%dB", len(ev.Data)), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ev.Data)))
			var f Frame
			for b.Loop() {
				f = EncodeEvent(ev)
			}
			b.ReportMetric(float64(len(f.Plain)), "plain_B")
			b.ReportMetric(float64(len(f.Deflated)), "deflated_B")
		})
	}
}

func BenchmarkEncodeWelcome(b *testing.B) {
	b.ReportAllocs()
	w := Welcome{ConnID: "c-9f2", Org: "acme", User: "alice", Epoch: "e-41a", Head: 1042, Resumed: true, ReplayFrom: 1001, ReplayTo: 1042}
	for b.Loop() {
		_ = EncodeWelcome(w)
	}
}
