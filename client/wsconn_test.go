package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/orgstream/orgstream/messages"
)

// loopback returns both ends of a real TCP connection over 127.0.0.1.
func loopback(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func frameBytes(t testing.TB, f ws.Frame) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readClientFrame reads one (masked) frame the client wrote.
func readClientFrame(t testing.TB, c net.Conn) ws.Frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, err := ws.ReadHeader(c)
	if err != nil {
		t.Fatalf("server: read header: %v", err)
	}
	if !h.Masked {
		t.Fatalf("client frame %v not masked", h.OpCode)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c, p); err != nil {
		t.Fatal(err)
	}
	ws.Cipher(p, h.Mask, 0)
	return ws.Frame{Header: h, Payload: p}
}

func compressed(t testing.TB, p []byte) []byte {
	t.Helper()
	z, err := wsflate.DefaultHelper.Compress(p)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestWSConnRead(t *testing.T) {
	t.Parallel()
	small := messages.EncodeEvent(messages.Event{Seq: 1, Topic: "t", Time: ts0, Data: json.RawMessage(`{"a":1}`)})
	bigData := `{"pad":"` + strings.Repeat("xyz", 5000) + `"}`
	big := messages.EncodeEvent(messages.Event{Seq: 2, Topic: "t", Time: ts0, Data: json.RawMessage(bigData)})
	bigPayload := payload(t, big.Plain)
	text := []byte(`{"type":"event","seq":3,"topic":"fragmented"}`)
	z := compressed(t, bigPayload)
	rsv1 := ws.Rsv(true, false, false)

	cases := []struct {
		name    string
		deflate bool
		maxMsg  int
		frames  [][]byte // what the server writes
		want    [][]byte // the messages read, in order
		wantErr error    // then the error that ends the reading
		pongs   []string // pongs the server gets back
		close   int      // close code the server gets back (0: none)
	}{
		{name: "small frame, read in place", frames: [][]byte{small.Plain}, want: [][]byte{payload(t, small.Plain)}},
		{name: "frame over the read buffer", frames: [][]byte{big.Plain, small.Plain},
			want: [][]byte{bigPayload, payload(t, small.Plain)}},
		{name: "compressed frame (messages.Deflated)", deflate: true, frames: [][]byte{big.Deflated, small.Plain, big.Deflated},
			want: [][]byte{bigPayload, payload(t, small.Plain), bigPayload}},
		{name: "compressed frame without deflate", frames: [][]byte{big.Deflated}, wantErr: ErrProtocol},
		{name: "fragments with a ping between", frames: [][]byte{
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpText, Length: 10}, Payload: text[:10]}),
			frameBytes(t, ws.NewPingFrame([]byte("hi"))),
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpContinuation, Length: 10}, Payload: text[10:20]}),
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpContinuation, Fin: true, Length: int64(len(text) - 20)}, Payload: text[20:]}),
		}, want: [][]byte{text}, pongs: []string{"hi"}},
		{name: "compressed fragments", deflate: true, frames: [][]byte{
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpText, Rsv: rsv1, Length: 100}, Payload: z[:100]}),
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpContinuation, Fin: true, Length: int64(len(z) - 100)}, Payload: z[100:]}),
		}, want: [][]byte{bigPayload}},
		{name: "pings are answered", frames: [][]byte{frameBytes(t, ws.NewPingFrame(nil)), frameBytes(t, ws.NewPingFrame([]byte("x"))), small.Plain},
			want: [][]byte{payload(t, small.Plain)}, pongs: []string{"", "x"}},
		{name: "close is answered with its code", frames: [][]byte{small.Plain, frameBytes(t, ws.NewCloseFrame(ws.NewCloseFrameBody(4008, "slow")))},
			want: [][]byte{payload(t, small.Plain)}, wantErr: &CloseError{Code: 4008, Reason: "slow"}, close: 4008},
		{name: "close without a code", frames: [][]byte{frameBytes(t, ws.NewCloseFrame(nil))},
			wantErr: &CloseError{Code: 1005}, close: -1},
		{name: "masked server frame", frames: [][]byte{frameBytes(t, ws.MaskFrame(ws.NewTextFrame([]byte("{}"))))}, wantErr: ErrProtocol},
		{name: "continuation without a message", frames: [][]byte{frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpContinuation, Fin: true}})}, wantErr: ErrProtocol},
		{name: "reserved opcode", frames: [][]byte{frameBytes(t, ws.Frame{Header: ws.Header{OpCode: 3, Fin: true}})}, wantErr: ErrProtocol},
		{name: "fragmented control frame", frames: [][]byte{frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpPing}})}, wantErr: ErrProtocol},
		{name: "too large", maxMsg: 1000, frames: [][]byte{big.Plain}, wantErr: ErrTooLarge},
		{name: "inflates to too much", deflate: true, maxMsg: 10000, frames: [][]byte{big.Deflated}, wantErr: ErrTooLarge},
		{name: "fragments too large", maxMsg: 15, frames: [][]byte{
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpText, Length: 10}, Payload: text[:10]}),
			frameBytes(t, ws.Frame{Header: ws.Header{OpCode: ws.OpContinuation, Length: 10}, Payload: text[10:20]}),
		}, wantErr: ErrTooLarge},
		{name: "connection ends mid-frame", frames: [][]byte{big.Plain[:5000]}, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc, sc := loopback(t)
			cfg := Config{URL: "ws://x/", Token: "t", MaxMessageSize: tc.maxMsg}
			if _, err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			wc := newWSConn(cc, nil, tc.deflate, &cfg)
			defer wc.release()
			go func() {
				for _, f := range tc.frames {
					if _, err := sc.Write(f); err != nil {
						return
					}
				}
				if tc.wantErr == io.ErrUnexpectedEOF {
					_ = sc.(*net.TCPConn).CloseWrite()
				}
			}()
			for i, want := range tc.want {
				got, err := wc.readMessage()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: %d bytes %.80q..., want %d bytes %.80q...", i, len(got), got, len(want), want)
				}
			}
			if tc.wantErr != nil {
				_, err := wc.readMessage()
				var want *CloseError
				if errors.As(tc.wantErr, &want) {
					var got *CloseError
					if !errors.As(err, &got) || *got != *want {
						t.Fatalf("error %v, want %v", err, tc.wantErr)
					}
				} else if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
			}
			for _, p := range tc.pongs {
				f := readClientFrame(t, sc)
				if f.Header.OpCode != ws.OpPong || string(f.Payload) != p {
					t.Fatalf("server got %v %q, want pong %q", f.Header.OpCode, f.Payload, p)
				}
			}
			if tc.close != 0 {
				f := readClientFrame(t, sc)
				code, _ := ws.ParseCloseFrameData(f.Payload)
				if f.Header.OpCode != ws.OpClose || (tc.close > 0 && int(code) != tc.close) || (tc.close < 0 && len(f.Payload) != 0) {
					t.Fatalf("server got %v %q, want close %d", f.Header.OpCode, f.Payload, tc.close)
				}
			}
		})
	}
}

// TestWSConnShutdown: shutdown from another goroutine sends close 1000 and
// lets the reader wait for the answer; nothing is written after a close.
func TestWSConnShutdown(t *testing.T) {
	t.Parallel()
	cc, sc := loopback(t)
	cfg := Config{URL: "ws://x/", Token: "t"}
	if _, err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	wc := newWSConn(cc, nil, false, &cfg)
	defer wc.release()
	errc := make(chan error, 1)
	go func() {
		_, err := wc.readMessage()
		errc <- err
	}()
	wc.shutdown(CloseNormal)
	f := readClientFrame(t, sc)
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != 1000 {
		t.Fatalf("got %v %q, want close 1000", f.Header.OpCode, f.Payload)
	}
	// The server pings then answers the close: the ping is not answered
	// any more (nothing after a close), the close ends the read.
	_, _ = sc.Write(frameBytes(t, ws.NewPingFrame([]byte("late"))))
	_, _ = sc.Write(frameBytes(t, ws.NewCloseFrame(ws.NewCloseFrameBody(1000, ""))))
	var ce *CloseError
	if err := <-errc; !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("read ended with %v, want the close answer", err)
	}
	_ = sc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := sc.Read(make([]byte, 16)); n != 0 {
		t.Fatalf("client wrote %d more bytes after its close (%v)", n, err)
	}
}

// BenchmarkReadEvents is the hot path: events read from a real TCP socket
// and decoded (readMessage, decodeFrame, rawFrame.event).
func BenchmarkReadEvents(b *testing.B) {
	for _, bc := range []struct {
		name    string
		data    string
		deflate bool
	}{
		{"small", `{"order":42,"status":"shipped"}`, false},
		{"2KiB-deflated", `{"pad":"` + strings.Repeat("abcdefgh", 256) + `"}`, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cc, sc := loopback(b)
			cfg := Config{URL: "ws://x/", Token: "t"}
			if _, err := cfg.validate(); err != nil {
				b.Fatal(err)
			}
			wc := newWSConn(cc, nil, bc.deflate, &cfg)
			defer wc.release()
			fr := messages.EncodeEvent(messages.Event{Seq: 1, Topic: "orders.updated", Time: ts0, Data: json.RawMessage(bc.data)})
			one := fr.For(messages.WSEncoding(bc.deflate))
			batch := bytes.Repeat(one, 64)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					if _, err := sc.Write(batch); err != nil {
						return
					}
				}
			}()
			var f rawFrame
			var ev Event
			var topics internCache
			b.SetBytes(int64(len(one)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := wc.readMessage()
				if err != nil {
					b.Fatal(err)
				}
				if err := decodeFrame(p, &f); err != nil {
					b.Fatal(err)
				}
				if err := f.event(&ev, &topics); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			sc.Close()
			cc.Close()
			<-done
		})
	}
}
