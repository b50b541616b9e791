//go:build linux

package socket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// frame returns n bytes that tell frame i apart from the others.
func frame(i, n int) []byte {
	return bytes.Repeat([]byte{byte('a' + i%26)}, n)
}

// A push on an idle outbox is on the wire when it returns: no kick, nothing
// queued for the writer.
func TestDirectWriteIdle(t *testing.T) {
	s, c := tcpPair(t)
	o := NewOutbox(1<<20, s)
	f := frame(0, 270)
	if kick, ok := o.Push(f); kick || !ok {
		t.Fatalf("push on an idle outbox: kick=%v ok=%v, want written at once", kick, ok)
	}
	if q := o.Take(nil); len(q) != 0 {
		t.Fatalf("%d frames queued after a direct write", len(q))
	}
	got := make([]byte, len(f))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, f) {
		t.Fatalf("client read %q (%v), want the frame", got, err)
	}
}

// A socket that would block gets the unwritten tail queued first, then
// the frames pushed behind it; the writer's batch completes every frame in
// order, byte for byte.
func TestDirectWriteQueuesTheTail(t *testing.T) {
	s, c := tcpPair(t)
	_ = s.SetWriteBuffer(4 << 10)
	_ = c.SetReadBuffer(4 << 10)
	o := NewOutbox(64<<20, s)
	var sent bytes.Buffer
	kicked := -1
	for i := 0; i < 4096 && kicked < 0; i++ {
		f := frame(i, 1000+i%7)
		sent.Write(f)
		kick, ok := o.Push(f)
		if !ok {
			t.Fatal("push refused")
		}
		if kick {
			kicked = i
		}
	}
	if kicked < 0 {
		t.Fatal("the socket never filled up: no kick")
	}
	for i := kicked + 1; i < kicked+4; i++ {
		f := frame(i, 500)
		sent.Write(f)
		if kick, ok := o.Push(f); kick || !ok {
			t.Fatalf("push behind the queued tail: kick=%v ok=%v, want queued without a kick", kick, ok)
		}
	}
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.CopyN(&got, c, int64(sent.Len()))
	}()
	batch := o.Take(nil)
	n := 0
	for _, b := range batch {
		n += len(b)
	}
	bufs := net.Buffers(batch)
	if _, err := bufs.WriteTo(s); err != nil {
		t.Fatal(err)
	}
	o.Written(n)
	wg.Wait()
	if !bytes.Equal(got.Bytes(), sent.Bytes()) {
		t.Fatalf("client read %d bytes differing from the %d pushed", got.Len(), sent.Len())
	}
	// Idle again: the next push goes straight out.
	if kick, _ := o.Push(frame(0, 10)); kick {
		t.Fatal("push after the batch was written kicked")
	}
}

// A direct write that fails closes the outbox (not as a slow consumer) and
// kicks, so the writer learns of it from Err and ends the connection.
func TestDirectWriteErrorCloses(t *testing.T) {
	s, c := tcpPair(t)
	_ = c.SetLinger(0)
	_ = c.Close() // a reset: the server's writes fail
	o := NewOutbox(1<<20, s)
	deadline := time.Now().Add(5 * time.Second)
	for o.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no write error after the peer reset")
		}
		kick, ok := o.Push(frame(0, 100))
		if o.Err() != nil && (!kick || !ok) {
			t.Fatalf("failed direct write: kick=%v ok=%v, want a kick to report it", kick, ok)
		}
		time.Sleep(time.Millisecond)
	}
	if !o.Closed() || o.Overflowed() {
		t.Fatalf("closed=%v overflowed=%v, want closed, not a slow consumer", o.Closed(), o.Overflowed())
	}
	if _, ok := o.Push(frame(1, 1)); ok {
		t.Fatal("push after a failed write succeeded")
	}
}

// Sockets without a raw fd (TLS, wrappers, pipes) queue every push for
// the writer, as before.
func TestNoDirectWriteOffTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	o := NewOutbox(1<<10, a)
	if kick, ok := o.Push(frame(0, 10)); !kick || !ok {
		t.Fatalf("push on a pipe: kick=%v ok=%v, want queued and kicked", kick, ok)
	}
	if err := o.TryWrite(&net.Buffers{frame(0, 1)}); err != nil {
		t.Fatal(err)
	}
}

// TryWrite writes what the socket takes now and leaves the rest in bufs.
func TestTryWrite(t *testing.T) {
	s, c := tcpPair(t)
	o := NewOutbox(1<<20, s)
	bufs := net.Buffers{frame(0, 100), frame(1, 200), frame(2, 300)}
	if err := o.TryWrite(&bufs); err != nil || len(bufs) != 0 {
		t.Fatalf("TryWrite to a reading socket: %d buffers left, err %v", len(bufs), err)
	}
	got := make([]byte, 600)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, bytes.Join([][]byte{frame(0, 100), frame(1, 200), frame(2, 300)}, nil)) {
		t.Fatalf("client read %q (%v)", got, err)
	}
	_ = s.SetWriteBuffer(4 << 10)
	_ = c.SetReadBuffer(4 << 10)
	big := net.Buffers{make([]byte, 8<<20), frame(3, 10)}
	if err := o.TryWrite(&big); err != nil || len(big) != 2 || len(big[0]) == 8<<20 || len(big[0]) == 0 {
		t.Fatalf("TryWrite to a full socket: %d buffers left (first %d bytes), err %v; want a partial write", len(big), len(big[0]), err)
	}
}

func TestConsume(t *testing.T) {
	tests := []struct {
		n    int
		want []int
	}{
		{0, []int{3, 0, 2}}, // leading frame kept; empty ones only drop once reached
		{2, []int{1, 0, 2}},
		{3, []int{2}},
		{4, []int{1}},
		{5, nil},
	}
	for _, tt := range tests {
		bufs := net.Buffers{make([]byte, 3), nil, make([]byte, 2)}
		consume(&bufs, tt.n)
		var got []int
		for _, b := range bufs {
			got = append(got, len(b))
		}
		if len(got) != len(tt.want) {
			t.Fatalf("consume %d: %v, want %v", tt.n, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("consume %d: %v, want %v", tt.n, got, tt.want)
			}
		}
	}
}

// errClosed checks that a write racing a Close fails cleanly.
func TestDirectWriteAfterCloseFails(t *testing.T) {
	s, _ := tcpPair(t)
	o := NewOutbox(1<<20, s)
	_ = s.Close()
	if kick, ok := o.Push(frame(0, 10)); !kick || !ok || !errors.Is(o.Err(), net.ErrClosed) {
		t.Fatalf("push on a closed socket: kick=%v ok=%v err=%v, want the close reported", kick, ok, o.Err())
	}
}

// A write deadline left on the conn by the writer's slow path is past by
// the next push: the runtime refuses raw writes then, and the push must
// leave the frame to the writer instead of failing the connection.
func TestDirectWriteAfterStaleDeadline(t *testing.T) {
	s, _ := tcpPair(t)
	o := NewOutbox(1<<20, s)
	_ = s.SetWriteDeadline(time.Now().Add(-time.Second))
	if kick, ok := o.Push(frame(0, 10)); !kick || !ok || o.Err() != nil {
		t.Fatalf("push past a stale deadline: kick=%v ok=%v err=%v, want queued for the writer", kick, ok, o.Err())
	}
	if !o.Flush() {
		t.Fatal("Flush past a stale deadline: want a kick for the writer")
	}
	if o.Err() != nil {
		t.Fatalf("Flush past a stale deadline failed the outbox: %v", o.Err())
	}
}

// Flush writes a queued burst in one go when the socket takes it, and
// leaves the rest (tail first) to the writer when it does not, or when the
// writer holds a batch.
func TestFlush(t *testing.T) {
	s, c := tcpPair(t)
	o := NewOutbox(64<<20, s)
	var sent bytes.Buffer
	for i := range 3 {
		f := frame(i, 100)
		sent.Write(f)
		if kick, ok := o.Queue(f); kick != (i == 0) || !ok {
			t.Fatalf("queue %d: kick=%v ok=%v", i, kick, ok)
		}
	}
	if o.Flush() {
		t.Fatal("Flush of a small burst to a reading socket left frames for the writer")
	}
	got := make([]byte, sent.Len())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, sent.Bytes()) {
		t.Fatalf("client read %q (%v)", got, err)
	}
	if kick, _ := o.Queue(frame(3, 10)); !kick {
		t.Fatal("queue after a complete Flush did not kick")
	}
	batch := o.Take(nil) // the writer holds a batch
	o.Queue(frame(4, 10))
	if !o.Flush() {
		t.Fatal("Flush behind the writer's batch wrote, or dropped the kick")
	}
	o.Written(len(batch[0]))

	_ = s.SetWriteBuffer(4 << 10)
	_ = c.SetReadBuffer(4 << 10)
	o.Queue(make([]byte, 8<<20))
	if !o.Flush() {
		t.Fatal("Flush to a full socket did not leave the rest to the writer")
	}
	rest := o.Take(nil)
	if len(rest) != 1 || len(rest[0]) == 0 || len(rest[0]) >= 8<<20+10 {
		t.Fatalf("left %d frames (%d bytes first), want the tail of the big frame", len(rest), len(rest[0]))
	}
}

// A frame a direct write or Flush started is completed before anything the
// closer writes: Close keeps its tail, and CloseAndTake hands it over once.
func TestCloseKeepsAStartedFrame(t *testing.T) {
	for _, viaFlush := range []bool{false, true} {
		s, c := tcpPair(t)
		_ = s.SetWriteBuffer(4 << 10)
		_ = c.SetReadBuffer(4 << 10)
		o := NewOutbox(64<<20, s)
		big := frame(0, 8<<20)
		if viaFlush {
			o.Queue(frame(1, 10))
			o.Queue(big)
			if !o.Flush() {
				t.Fatal("an 8 MiB frame went out at once")
			}
		} else if kick, _ := o.Push(big); !kick {
			t.Fatal("an 8 MiB frame went out at once")
		}
		o.Queue(frame(2, 10)) // whole: dropped by the close
		o.Close()
		left := o.CloseAndTake(nil)
		if len(left) != 1 || len(left[0]) == 0 || len(left[0]) >= len(big) {
			t.Fatalf("flush %v: handed over %d frames, want one: the unwritten end of the started frame", viaFlush, len(left))
		}
		if again := o.CloseAndTake(nil); len(again) != 0 {
			t.Fatal("the tail was handed over twice")
		}
		full := NewOutbox(64<<20, s)
		full.Queue(frame(3, 10))
		full.Close()
		if left := full.CloseAndTake(nil); len(left) != 0 {
			t.Fatal("a queue of whole frames left a tail")
		}
	}
}

// What a partial Flush leaves still counts against the limit, to the byte.
func TestFlushKeepsTheAccount(t *testing.T) {
	s, c := tcpPair(t)
	_ = s.SetWriteBuffer(4 << 10)
	_ = c.SetReadBuffer(4 << 10)
	const limit = 16 << 20
	o := NewOutbox(limit, s)
	o.Queue(frame(0, 100))
	o.Queue(make([]byte, 8<<20))
	if !o.Flush() {
		t.Fatal("an 8 MiB frame went out at once")
	}
	rest := 0
	for _, b := range o.Take(nil) {
		rest += len(b)
	}
	o.Written(rest)
	o.Queue(make([]byte, rest))
	o.Flush()
	left := 0
	for _, b := range o.Take(nil) {
		left += len(b)
	}
	o.Written(left)
	if rest == 0 || rest >= 8<<20+100 {
		t.Fatalf("%d bytes left after the first Flush", rest)
	}
	// Requeue what is left unflushed and check the limit sees it.
	o.Queue(make([]byte, 4<<20))
	o.Flush() // the socket is full: nothing or little goes
	o.SetBlocked(true)
	if _, ok := o.Queue(make([]byte, limit-(4<<20)+1)); ok {
		t.Fatal("a queue past the limit behind a partial Flush was accepted: its rest went uncounted")
	}
}
