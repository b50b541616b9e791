package bench

import (
	"fmt"
	"syscall"
	"time"
)

// threadCPU returns the user and system CPU time of the calling OS thread
// and the times it was descheduled while runnable (involuntary context
// switches), from getrusage(RUSAGE_THREAD). The caller must hold its thread with
// runtime.LockOSThread for two readings to be of the same thread. On a
// kernel without CONFIG_IRQ_TIME_ACCOUNTING the softirq work done in the
// thread's context (for a loopback write: the receiver's TCP processing)
// is part of its system time.
func threadCPU() (user, sys time.Duration, preempted int64, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0, 0, 0, fmt.Errorf("bench: getrusage(RUSAGE_THREAD): %w", err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), ru.Nivcsw, nil
}

// threadCPUClock names the clock threadCPU reads, for reports.
const threadCPUClock = "getrusage(RUSAGE_THREAD) of the writer's locked OS thread"
