package messages

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// sseCases is shared by the exact-output test and the fuzz seed corpus.
var sseCases = []struct {
	name  string
	frame func() Frame
	want  string
}{
	{
		name: "event",
		frame: func() Frame {
			return EncodeEventIn(Event{Seq: 1001, Topic: "orders.updated", Time: ts0, Data: json.RawMessage(`{"any":"json"}`)}, "e-41a")
		},
		want: "id: e-41a:1001\nevent: event\n" +
			`data: {"type":"event","seq":1001,"topic":"orders.updated","ts":"2026-11-28T10:00:00.123456Z","data":{"any":"json"}}` + "\n\n",
	},
	{
		name: "event whose data spans lines",
		frame: func() Frame {
			return EncodeEventIn(Event{Seq: 2, Topic: "t", Time: ts0, Data: json.RawMessage("{\r\n\"a\":\n[1,\r2]}")}, "e-1")
		},
		want: "id: e-1:2\nevent: event\n" +
			`data: {"type":"event","seq":2,"topic":"t","ts":"2026-11-28T10:00:00.123456Z","data":{  "a": [1, 2]}}` + "\n\n",
	},
	{
		name: "welcome",
		frame: func() Frame {
			return EncodeWelcome(Welcome{ConnID: "c-1", Org: "acme", User: "alice", Epoch: "e-1", Head: 7})
		},
		want: "event: welcome\n" +
			`data: {"type":"welcome","conn_id":"c-1","org":"acme","user":"alice","epoch":"e-1","head":7,"resumed":false,"protocol":"2"}` + "\n\n",
	},
	{
		name:  "reset",
		frame: func() Frame { return EncodeReset(Reset{Reason: ResetWindowExceeded, First: 3, Head: 9}) },
		want:  "event: reset\n" + `data: {"type":"reset","reason":"window_exceeded","first":3,"head":9}` + "\n\n",
	},
	{
		name: "large event (16-bit WebSocket length)",
		frame: func() Frame {
			return EncodeEventIn(Event{Seq: 5, Topic: "t", Time: ts0, Data: json.RawMessage(`"` + strings.Repeat("y", 70000) + `"`)}, "e-1")
		},
		want: "id: e-1:5\nevent: event\n" +
			`data: {"type":"event","seq":5,"topic":"t","ts":"2026-11-28T10:00:00.123456Z","data":"` + strings.Repeat("y", 70000) + `"}` + "\n\n",
	},
}

func inflate(t testing.TB, block []byte) []byte {
	t.Helper()
	b, err := io.ReadAll(flate.NewReader(bytes.NewReader(block)))
	if err != nil && err != io.ErrUnexpectedEOF { // a sync-flushed stream has no final block
		t.Fatalf("inflate: %v", err)
	}
	return b
}

// Every frame's SSE form is its JSON as one message, built once: For
// returns the same bytes on every call, and the gzip block inflates to
// them.
func TestFrameSSE(t *testing.T) {
	for _, tt := range sseCases {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.frame()
			got := f.For(EncSSE)
			if string(got) != tt.want {
				t.Fatalf("SSE\n got %q\nwant %q", got, tt.want)
			}
			if again := f.For(EncSSE); &again[0] != &got[0] {
				t.Fatal("SSE built twice")
			}
			g := f.SSEGzip()
			if b := f.For(EncSSEGzip); &b[0] != &g.Block[0] {
				t.Fatal("gzip block built twice")
			}
			if in := inflate(t, g.Block); !bytes.Equal(in, got) {
				t.Fatalf("gzip block inflates to %q", in)
			}
			if !bytes.HasSuffix(g.Block, syncBlock[1:]) || g.Size != len(got) {
				t.Fatalf("gzip block: no sync flush at the end, or size %d", g.Size)
			}
			all := len(f.Plain) + len(f.Deflated) + len(got) + len(g.Block)
			if all > f.MemBound() {
				t.Fatalf("forms take %d bytes, MemBound says %d", all, f.MemBound())
			}
		})
	}
}

// The SSE forms are built safely by racing readers (the org actor and a
// replay), and all get the same shared bytes.
func TestFrameSSEConcurrent(t *testing.T) {
	f := sseCases[0].frame()
	var wg sync.WaitGroup
	got := make([][2]*byte, 8)
	for i := range got {
		wg.Go(func() {
			got[i] = [2]*byte{&f.For(EncSSEGzip)[0], &f.For(EncSSE)[0]}
		})
	}
	wg.Wait()
	for _, g := range got[1:] {
		if g != got[0] {
			t.Fatal("racing builders handed out different bytes")
		}
	}
}

// Incompressible data is stored, and the block stays within MemBound's
// bound.
func TestGzipBlockIncompressible(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, 200000)
	for i := range raw {
		raw[i] = 'a' + byte(r.IntN(26))
	}
	for _, msg := range [][]byte{nil, []byte("x"), raw} {
		g := NewGzipBlock(msg)
		if len(g.Block) > storedSize(len(msg)) {
			t.Fatalf("%d bytes: block of %d over the bound %d", len(msg), len(g.Block), storedSize(len(msg)))
		}
		if in := inflate(t, g.Block); !bytes.Equal(in, msg) {
			t.Fatalf("%d bytes: inflates to %d", len(msg), len(in))
		}
	}
}

// The SSE form of any event keeps its JSON on one data line, equal as JSON
// to the WebSocket payload; its gzip block inflates to it.
func FuzzFrameSSE(f *testing.F) {
	f.Add(uint64(1), "t", "e-1", []byte(`{"a":1}`))
	f.Add(uint64(99), "a.b", "", []byte("[1,\r\n2]"))
	f.Fuzz(func(t *testing.T, seq uint64, topic, epoch string, data []byte) {
		if !json.Valid(data) || strings.ContainsAny(epoch, "\r\n") {
			t.Skip()
		}
		fr := EncodeEventIn(Event{Seq: seq, Topic: topic, Time: ts0, Data: data}, epoch)
		msg := fr.For(EncSSE)
		lines := strings.Split(string(msg), "\n")
		if len(lines) != 5 || lines[3] != "" || lines[4] != "" || !strings.HasPrefix(lines[2], "data: ") {
			t.Fatalf("not one message of three lines: %q", msg)
		}
		var a, b any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[2], "data: ")), &a); err != nil {
			t.Fatalf("data line: %v", err)
		}
		if err := json.Unmarshal(wsPayload(fr.Plain), &b); err != nil {
			t.Fatal(err)
		}
		if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
			t.Fatalf("data line means %s, frame %s", ja, jb)
		}
		if in := inflate(t, fr.SSEGzip().Block); !bytes.Equal(in, msg) {
			t.Fatal("gzip block does not inflate to the message")
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The per-event cost of the SSE forms (once per event and node, by the
// first reader) and the per-delivery cost a gzip connection adds (folding
// the block's CRC into its trailer).
func BenchmarkFrameSSE(b *testing.B) {
	ev := Event{Seq: 42, Topic: "orders.updated", Time: ts0,
		Data: json.RawMessage(`{"order":42,"status":"shipped","pad":"` + strings.Repeat("x", 200) + `"}`)}
	b.Run("sse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := EncodeEventIn(ev, "e-dnevqphdnh08")
			_ = f.For(EncSSE)
		}
	})
	b.Run("sse-gzip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := EncodeEventIn(ev, "e-dnevqphdnh08")
			_ = f.For(EncSSEGzip)
		}
	})
	b.Run("gzip-fold", func(b *testing.B) {
		f := EncodeEventIn(ev, "e-dnevqphdnh08")
		g := f.SSEGzip()
		var s GzipStream
		b.ReportAllocs()
		for b.Loop() {
			s.Add(g)
		}
	})
}
