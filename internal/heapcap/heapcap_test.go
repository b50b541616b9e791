package heapcap

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name                       string
		live, runtimeOwn, headroom uint64
		ceiling                    int64
		want                       int64
	}{
		{"headroom above the memory in use", 100 * mib, 10 * mib, 64 * mib, math.MaxInt64, 174 * mib},
		{"an empty heap gets the headroom", 0, 0, 64 * mib, math.MaxInt64, 64 * mib},
		{"GOMEMLIMIT stays the ceiling", 100 * mib, 10 * mib, 64 * mib, 150 * mib, 150 * mib},
		{"below GOMEMLIMIT it is lowered", 10 * mib, 5 * mib, 64 * mib, 150 * mib, 79 * mib},
		{"a large live heap gets an eighth of it", 4096 * mib, 10 * mib, 64 * mib, math.MaxInt64, (4096 + 10 + 512) * mib},
		{"the eighth starts at 8 × the headroom", 512 * mib, 0, 64 * mib, math.MaxInt64, 576 * mib},
		{"overflow keeps the ceiling", math.MaxUint64 - 1, 10, 10, math.MaxInt64, math.MaxInt64},
		{"past MaxInt64 keeps the ceiling", math.MaxInt64, 1, 1, 1 << 40, 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := limit(tt.live, tt.runtimeOwn, tt.headroom, tt.ceiling); got != tt.want {
				t.Fatalf("limit(%d, %d, %d, %d) = %d, want %d", tt.live, tt.runtimeOwn, tt.headroom, tt.ceiling, got, tt.want)
			}
		})
	}
}

// TestStartMovesTheLimit: after a collection the process's soft memory
// limit is the memory in use plus the headroom (far below "no limit"), and
// Stop restores the limit found at Start.
func TestStartMovesTheLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	const headroom = 64 << 20
	c := Start(headroom)
	defer c.Stop()

	var ms runtime.MemStats
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		got := debug.SetMemoryLimit(-1)
		// Sys bounds the memory in use from above.
		if got >= headroom && got <= int64(ms.Sys)+headroom {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit %d after a collection, want within [%d, Sys %d + %d]", got, headroom, ms.Sys, headroom)
		}
		time.Sleep(pollInterval)
	}
	c.Stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit %d after Stop, want the one found at Start, %d", got, before)
	}
}

// TestStartKeepsGOMEMLIMIT: a limit set before Start (GOMEMLIMIT) is never
// raised.
func TestStartKeepsGOMEMLIMIT(t *testing.T) {
	const ceiling = 8 << 20 // below headroom: Cap must not raise it
	prev := debug.SetMemoryLimit(ceiling)
	defer debug.SetMemoryLimit(prev)
	c := Start(64 << 20)
	defer c.Stop()
	for range 3 {
		runtime.GC()
		time.Sleep(2 * pollInterval)
		if got := debug.SetMemoryLimit(-1); got > ceiling {
			t.Fatalf("limit %d, above the ceiling %d set before Start", got, ceiling)
		}
	}
	c.Stop()
	if got := debug.SetMemoryLimit(-1); got != ceiling {
		t.Fatalf("limit %d after Stop, want %d", got, ceiling)
	}
}
