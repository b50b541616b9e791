//go:build linux

package socket

import (
	"io"
	"net"
	"testing"
)

// drain reads c until it closes.
func drain(c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// BenchmarkPushDirect is one delivery on the fast path: a 270-byte frame
// pushed on an idle outbox over loopback, whose peer drains it. A push the
// socket would not take is written by the test as the writer would (rare).
// Compare with BenchmarkWriteFloor: the same frame with a bare Write.
func BenchmarkPushDirect(b *testing.B) {
	s, c := tcpPair(b)
	go drain(c)
	o := NewOutbox(64<<20, s)
	f := frame(0, 270)
	var slow int
	var batch [][]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	b.ResetTimer()
	for range b.N {
		if kick, _ := o.Push(f); kick {
			slow++
			batch = writeTaken(b, o, s, batch)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(slow)/float64(b.N), "slow/op")
}

// BenchmarkWriteFloor is the floor: one Write of the frame on the net.Conn.
func BenchmarkWriteFloor(b *testing.B) {
	s, c := tcpPair(b)
	go drain(c)
	f := frame(0, 270)
	var w io.Writer = s
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlush is a burst's fan-out step: ten frames queued, then written
// by one non-blocking writev at the kick.
func BenchmarkFlush(b *testing.B) {
	s, c := tcpPair(b)
	go drain(c)
	o := NewOutbox(64<<20, s)
	f := frame(0, 270)
	var batch [][]byte
	b.ReportAllocs()
	b.SetBytes(10 * int64(len(f)))
	b.ResetTimer()
	for range b.N {
		for range 10 {
			o.Queue(f)
		}
		if o.Flush() {
			batch = writeTaken(b, o, s, batch)
		}
	}
}

// writeTaken is the connection's slow path in the benchmarks: it takes the
// outbox's queue into batch, writes it with a blocking writev and releases
// its bytes.
func writeTaken(b *testing.B, o *Outbox, s net.Conn, batch [][]byte) [][]byte {
	batch = o.Take(batch)
	n := 0
	for _, x := range batch {
		n += len(x)
	}
	bufs := net.Buffers(batch)
	if _, err := bufs.WriteTo(s); err != nil {
		b.Fatal(err)
	}
	o.Written(n)
	return batch
}
