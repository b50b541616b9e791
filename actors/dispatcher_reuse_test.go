package actors

import (
	"bytes"
	"runtime"
	"testing"
	"time"
)

// goid is the calling goroutine's id, from its stack header.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	return string(f[1])
}

// A run after an earlier one ended goes to the earlier one's goroutine; a
// run while every goroutine is busy (a writer blocked in its append) gets a
// goroutine of its own at once, never waits; stop ends the idle ones (the
// package's goleak check) and later runs still run.
func TestReuseDispatcher(t *testing.T) {
	d := newReuseDispatcher(orgThroughput)
	ran := make(chan string)
	d.Schedule(func() { ran <- goid() })
	first := <-ran
	// The goroutine is idle once it waits on the handoff: retry until a
	// run lands on it (the first Schedule may come before it waits).
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.Schedule(func() { ran <- goid() })
		if <-ran == first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no run reused the first goroutine")
		}
	}

	block := make(chan struct{})
	d.Schedule(func() { ran <- goid(); <-block })
	busy := <-ran
	d.Schedule(func() { ran <- goid() })
	select {
	case g := <-ran:
		if g == busy {
			t.Fatal("a run shared the goroutine of a blocked one")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a run waited behind a blocked one")
	}
	close(block)

	d.stop()
	d.stop()
	d.Schedule(func() { ran <- goid() })
	<-ran
}
