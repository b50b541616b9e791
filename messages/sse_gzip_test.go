package messages

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"
)

// Each message's block is readable on its own: a gzip reader that got the
// header and the blocks so far returns every message in them without
// waiting for more input (what "flushed per message" means to a client).
func TestGzipBlocksFlushed(t *testing.T) {
	msgs := [][]byte{
		SSERetry(1500),
		func() []byte {
			f := EncodeWelcome(Welcome{ConnID: "c", Org: "o", User: "u", Epoch: "e-1"})
			return f.SSE()
		}(),
		func() []byte {
			f := EncodeEventIn(Event{Seq: 4, Topic: "t", Time: ts0, Data: []byte("{\n  \"a\": [1,\r\n 2]\n}")}, "e-1")
			return f.SSE()
		}(),
		SSEComment("ping"),
		bytes.Repeat([]byte("x"), 100000),
	}
	pr, pw := io.Pipe()
	next := make(chan bool)
	go func() {
		_, _ = pw.Write(GzipHeader)
		var s GzipStream
		for _, m := range msgs {
			g := NewGzipBlock(m)
			s.Add(g)
			_, _ = pw.Write(g.Block)
			if !<-next {
				return
			}
		}
		_, _ = pw.Write(s.Trailer())
		_ = pw.Close()
	}()
	defer close(next)
	zr, err := gzip.NewReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		got := make([]byte, len(m))
		done := make(chan error, 1)
		go func() { _, err := io.ReadFull(zr, got); done <- err }()
		select {
		case err := <-done:
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("message %d: %q %v", i, got, err)
			}
		case <-time.After(5 * time.Second):
			_ = pw.CloseWithError(io.ErrClosedPipe)
			t.Fatalf("message %d not readable from its own block", i)
		}
		next <- true
	}
	if rest, err := io.ReadAll(zr); err != nil || len(rest) != 0 {
		t.Fatalf("end: %q %v", rest, err)
	}
}
