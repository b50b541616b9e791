//go:build !linux

package bench

import (
	"errors"
	"time"
)

// errNoThreadCPU: the floor needs a per-thread CPU clock, read here only
// on Linux.
var errNoThreadCPU = errors.New("bench: per-thread CPU time is only read on Linux")

func threadCPU() (user, sys time.Duration, preempted int64, err error) {
	return 0, 0, 0, errNoThreadCPU
}

const threadCPUClock = "none (per-thread CPU time is only read on Linux)"
