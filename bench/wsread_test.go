package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// headerCases are written by gobwas/ws and read back by readFrameHeader.
var headerCases = []ws.Header{
	{Fin: true, OpCode: ws.OpText, Length: 0},
	{Fin: true, OpCode: ws.OpText, Length: 125},
	{Fin: true, OpCode: ws.OpText, Length: 126},
	{Fin: true, OpCode: ws.OpText, Length: 65535},
	{Fin: true, OpCode: ws.OpBinary, Length: 65536},
	{Fin: true, OpCode: ws.OpText, Length: 1 << 40},
	{Fin: false, OpCode: ws.OpText, Length: 10},
	{Fin: true, OpCode: ws.OpText, Length: 10, Rsv: ws.Rsv(true, false, false)},
	{Fin: true, OpCode: ws.OpPing, Length: 4},
	{Fin: true, OpCode: ws.OpClose, Length: 2, Masked: true, Mask: [4]byte{1, 2, 3, 4}},
}

func TestReadFrameHeader(t *testing.T) {
	for _, h := range headerCases {
		var buf bytes.Buffer
		if err := ws.WriteHeader(&buf, h); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("rest")
		r := bufio.NewReaderSize(&buf, 16)
		got, err := readFrameHeader(r)
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		want := frameHeader{op: byte(h.OpCode), fin: h.Fin, rsv: h.Rsv, masked: h.Masked, length: h.Length}
		if got != want {
			t.Errorf("read %+v, want %+v", got, want)
		}
		rest, _ := io.ReadAll(r)
		if string(rest) != "rest" {
			t.Errorf("%+v: header not consumed exactly, left %q", h, rest)
		}
	}
}

func TestReadFrameHeaderShortInput(t *testing.T) {
	for _, in := range [][]byte{{}, {0x81}, {0x81, 126, 0}, {0x81, 127, 0, 0, 0}} {
		_, err := readFrameHeader(bufio.NewReader(bytes.NewReader(in)))
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%x: err = %v, want EOF", in, err)
		}
	}
}

func TestReadPayload(t *testing.T) {
	cases := []struct {
		name string
		h    frameHeader
		in   string
		want string
		err  error
	}{
		{"fits", frameHeader{length: 3}, "abcdef", "abc", nil},
		{"empty", frameHeader{}, "", "", nil},
		{"short", frameHeader{length: 10}, "abc", "", io.ErrUnexpectedEOF},
		{"masked", frameHeader{length: 3, masked: true}, "abc", "", ErrProtocol},
		{"too big", frameHeader{length: maxServerFrame + 1}, "", "", ErrProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPayload(bufio.NewReader(bytes.NewReader([]byte(tc.in))), tc.h, make([]byte, 0, 1))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCloseCode(t *testing.T) {
	cases := []struct {
		in   []byte
		want int
	}{
		{nil, 1005},
		{[]byte{0x0f}, 1005},
		{[]byte{0x0f, 0xa8}, 4008},
		{[]byte{0x03, 0xe9, 'b', 'y', 'e'}, 1001},
	}
	for _, tc := range cases {
		if got := closeCode(tc.in); got != tc.want {
			t.Errorf("closeCode(%x) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzReadFrameHeader checks readFrameHeader against gobwas/ws's reader.
func FuzzReadFrameHeader(f *testing.F) {
	for _, h := range headerCases {
		var buf bytes.Buffer
		_ = ws.WriteHeader(&buf, h)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readFrameHeader(bufio.NewReaderSize(bytes.NewReader(b), 16))
		want, werr := ws.ReadHeader(bytes.NewReader(b))
		if werr != nil {
			return // gobwas refuses some headers (e.g. long control frames) we read
		}
		if err != nil {
			if errors.Is(err, ErrProtocol) && want.Length > 1<<62 {
				return
			}
			t.Fatalf("%x: %v; gobwas read %+v", b, err, want)
		}
		w := frameHeader{op: byte(want.OpCode), fin: want.Fin, rsv: want.Rsv, masked: want.Masked, length: want.Length}
		if got != w {
			t.Fatalf("%x: read %+v, gobwas %+v", b, got, w)
		}
	})
}

func BenchmarkReadFrame(b *testing.B) {
	var frame bytes.Buffer
	p := bytes.Repeat([]byte("x"), 300)
	_ = ws.WriteFrame(&frame, ws.NewTextFrame(p))
	raw := bytes.Repeat(frame.Bytes(), 64)
	src := bytes.NewReader(raw)
	r := bufio.NewReaderSize(src, 4096)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(frame.Len()))
	for b.Loop() {
		h, err := readFrameHeader(r)
		if err == io.EOF {
			src.Reset(raw)
			r.Reset(src)
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = readPayload(r, h, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseFrameHeader(t *testing.T) {
	for _, h := range headerCases {
		var buf bytes.Buffer
		if err := ws.WriteHeader(&buf, h); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		got, n, err := parseFrameHeader(append(b, "rest"...))
		if err != nil || n != len(b) {
			t.Fatalf("%+v: n %d (want %d), err %v", h, n, len(b), err)
		}
		want := frameHeader{op: byte(h.OpCode), fin: h.Fin, rsv: h.Rsv, masked: h.Masked, length: h.Length}
		if got != want {
			t.Errorf("parsed %+v, want %+v", got, want)
		}
		for i := range len(b) {
			if _, n, err := parseFrameHeader(b[:i]); n != 0 || err != nil {
				t.Errorf("%+v cut at %d: n %d err %v, want incomplete", h, i, n, err)
			}
		}
	}
}

// FuzzParseFrameHeader checks that the slice decoder agrees with the
// buffered reader on any input.
func FuzzParseFrameHeader(f *testing.F) {
	for _, h := range headerCases {
		var buf bytes.Buffer
		_ = ws.WriteHeader(&buf, h)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseFrameHeader(b)
		rh, rerr := readFrameHeader(bufio.NewReaderSize(bytes.NewReader(b), 16))
		switch {
		case err != nil:
			if rerr == nil {
				t.Fatalf("%x: slice error %v, reader none", b, err)
			}
		case n == 0:
			if rerr == nil {
				t.Fatalf("%x: slice incomplete, reader read %+v", b, rh)
			}
		default:
			if rerr != nil || rh != h {
				t.Fatalf("%x: slice %+v, reader %+v (%v)", b, h, rh, rerr)
			}
		}
	})
}
