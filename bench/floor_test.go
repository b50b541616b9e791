package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// TestEventFrameMatchesServer: the floor writes byte for byte the frame
// the daemon writes for the same event.
func TestEventFrameMatchesServer(t *testing.T) {
	at := time.Date(2026, 12, 7, 19, 30, 1, 2003000, time.FixedZone("x", 3600))
	cases := []struct {
		name string
		seq  uint64
		size int
	}{
		{"smallest data", 1, 0},
		{"fanout size", floorSeq, 256},
		{"16-bit length", 1 << 40, 4000},
		{"64-bit length", 7, 70000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := EventData(at.UnixNano(), tc.size)
			want := messages.EncodeEvent(messages.Event{Seq: tc.seq, Topic: Topic, Time: at, Data: data}).Plain
			if got := EventFrame(tc.seq, at, data); string(got) != string(want) {
				t.Errorf("frame differs from the server's:\n got %q\nwant %q", got, want)
			}
		})
	}
	if got, want := len(FloorFrame(256, at)), len(EventFrame(floorSeq, at, EventData(at.UnixNano(), 256))); got != want {
		t.Errorf("FloorFrame(256) is %d bytes, want %d", got, want)
	}
}

func TestFloorConfig(t *testing.T) {
	for _, c := range []FloorConfig{{Conns: -1}, {Size: -1}, {Duration: -1}, {Rounds: -1}, {SourceAddrs: 251}} {
		if _, err := Floor(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
	c := FloorConfig{Size: 3}
	if err := c.validate(); err != nil || c.Conns != 1000 || c.Size != minDataSize || c.Duration != 5*time.Second ||
		c.Rounds != 5 || c.SourceAddrs != DefaultSourceAddrs {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

// TestFloor runs the floor small and checks that its figures are sane and
// that every byte written reached the reading ends. No speed is asserted.
func TestFloor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the floor reads per-thread CPU on Linux only")
	}
	const conns = 50
	fr, err := Floor(context.Background(), FloorConfig{Conns: conns, Duration: 500 * time.Millisecond, Rounds: 3})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Conns != conns || fr.Size != 256 || fr.FrameBytes != len(FloorFrame(256, time.Now())) {
		t.Errorf("conns %d, size %d, frame %d bytes", fr.Conns, fr.Size, fr.FrameBytes)
	}
	if len(fr.Rounds) != 3 {
		t.Fatalf("%d rounds, want 3", len(fr.Rounds))
	}
	var sum int64
	for i, rd := range fr.Rounds {
		if rd.Writes <= 0 || rd.Wall <= 0 || rd.User+rd.Sys <= 0 || rd.Calls < rd.Writes {
			t.Errorf("round %d: %+v", i+1, rd)
		}
		sum += rd.Writes
	}
	if fr.Writes != sum || fr.Writes <= 0 {
		t.Errorf("writes %d, rounds sum to %d", fr.Writes, sum)
	}
	if fr.CPUPerWrite <= 0 || fr.CPUPerWrite > time.Second {
		t.Errorf("CPU per write %v", fr.CPUPerWrite)
	}
	if fr.WritesPerSec <= 0 || math.IsInf(fr.WritesPerSec, 0) || math.IsNaN(fr.WritesPerSec) {
		t.Errorf("writes/s %v", fr.WritesPerSec)
	}
	if fr.Calls < fr.Writes || fr.Blocked < 0 || fr.Slow < 0 || fr.Slow > fr.Writes || fr.Preempted < 0 {
		t.Errorf("calls %d, blocked %d, slow %d, preempted %d for %d writes", fr.Calls, fr.Blocked, fr.Slow, fr.Preempted, fr.Writes)
	}
	// The warm-up writes the frame once to every socket, then the rounds.
	if want := (fr.Writes + conns) * int64(fr.FrameBytes); fr.Written != want || fr.Drained != want {
		t.Errorf("written %d, drained %d, want %d", fr.Written, fr.Drained, want)
	}
}

// TestFloorCheck: a reading end that received less than was written is
// caught.
func TestFloorCheck(t *testing.T) {
	g := &floorRig{frame: make([]byte, 10), conns: []*floorConn{{sent: 3}, {sent: 2, off: 4}},
		drained: []int64{30, 24}, drainErrs: make([]error, 2)}
	if w, d, err := g.check(); err != nil || w != 54 || d != 54 {
		t.Errorf("whole: %d, %d, %v", w, d, err)
	}
	g.drained[1] = 20
	if w, d, err := g.check(); !errors.Is(err, errFloorDrain) || w != 54 || d != 50 {
		t.Errorf("short: %d, %d, %v", w, d, err)
	}
	g.drained[1] = 24
	g.drainErrs[0] = errors.New("reset")
	if _, _, err := g.check(); !errors.Is(err, errFloorDrain) || !strings.Contains(err.Error(), "reset") {
		t.Errorf("read error: %v", err)
	}
}

func TestRunFloor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the floor reads per-thread CPU on Linux only")
	}
	r, err := RunFloor(context.Background(), FloorConfig{Conns: 20, Duration: 200 * time.Millisecond, Rounds: 2, SourceAddrs: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("failures: %v", r.Failures)
	}
	for _, name := range []string{"writes", "writes/s", "writer CPU per write (median round)", "bytes drained"} {
		if m, ok := r.Metric(name); !ok || !(m.Value > 0) {
			t.Errorf("metric %q: %+v, %v", name, m, ok)
		}
	}
	if len(r.Tables) != 1 || len(r.Tables[0].Rows) != 2 {
		t.Errorf("tables: %+v", r.Tables)
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, ResultsMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# orgstream-bench floor: PASS", "no daemon", "## Rounds", "RUSAGE_THREAD"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
}

// BenchmarkFloorWrite is one delivery's write to 100 loopback sockets in
// turn; cpu-ns/write is the writing thread's CPU, as Floor reads it.
func BenchmarkFloorWrite(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the floor reads per-thread CPU on Linux only")
	}
	g, err := newFloorRig(context.Background(), 100, DefaultSourceAddrs, FloorFrame(256, time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	defer g.close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	u0, s0, _, _ := threadCPU()
	b.ResetTimer()
	for i := range b.N {
		if err := g.writeOne(i % len(g.conns)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	u1, s1, _, _ := threadCPU()
	b.ReportMetric(float64(u1-u0+s1-s0)/float64(b.N), "cpu-ns/write")
}
