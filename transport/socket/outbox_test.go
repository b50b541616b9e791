package socket

import (
	"testing"
	"time"
)

func TestOutboxBoundsAndKicks(t *testing.T) {
	o := NewOutbox(10, nil)
	if kick, ok := o.Push(make([]byte, 4)); !kick || !ok {
		t.Fatalf("first push: kick=%v ok=%v", kick, ok)
	}
	if kick, ok := o.Push(make([]byte, 4)); kick || !ok {
		t.Fatalf("second push: kick=%v ok=%v, want no kick", kick, ok)
	}
	got := o.Take(nil)
	if len(got) != 2 {
		t.Fatalf("took %d frames, want 2", len(got))
	}
	// The batch being written does not count: the writer is draining it.
	if kick, ok := o.Push(make([]byte, 10)); !kick || !ok {
		t.Fatalf("push of the limit behind a write in flight: kick=%v ok=%v, want both", kick, ok)
	}
	o.SetBlocked(true) // the write waits on a full socket
	if _, ok := o.Push(make([]byte, 1)); ok {
		t.Fatal("push past the limit (10 waiting + 1 > 10) behind a blocked write succeeded")
	}
	if _, ok := o.Push([]byte{1}); ok {
		t.Fatal("push after overflow succeeded: the outbox must stay closed")
	}
	o.Written(8)
	if !o.Closed() || !o.Overflowed() {
		t.Fatal("outbox not closed as overflowed")
	}
}

// A reader that keeps up is never cut, whatever the sizes of the frames:
// the writer takes a burst as one batch, and the next burst waits behind
// it. Frames past the limit cut only behind a write blocked on a full
// socket, or past BurstLimits × limit.
func TestOutboxBurstsBehindAWrite(t *testing.T) {
	const limit = 100
	tests := []struct {
		name    string
		blocked bool
		bursts  [][]int // frame sizes pushed between two takes
		wantOK  bool
	}{
		{"one frame of the limit, idle", false, [][]int{{limit}}, true},
		{"frames of the limit, each taken", true, [][]int{{limit}, {limit}, {limit}, {limit}}, true},
		{"a burst of the limit, then another", true, [][]int{{40, 40, 20}, {50, 50}}, true},
		{"a burst past the limit, socket taking writes", false, [][]int{{60, 41}, {limit, limit, limit, limit}}, true},
		{"a burst past the limit, socket blocked", true, [][]int{{60, 41}}, false},
		{"two frames of the limit, socket blocked", true, [][]int{{limit, 1}}, false},
		{"past BurstLimits × limit, socket taking writes", false, [][]int{{limit, limit, limit, limit, 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOutbox(limit, nil)
			o.SetBlocked(tt.blocked)
			ok := true
			for _, burst := range tt.bursts {
				for _, n := range burst {
					if _, pushed := o.Push(make([]byte, n)); !pushed {
						ok = false
					}
				}
				o.Take(nil) // not written yet: the socket is taking it
			}
			if ok != tt.wantOK || o.Overflowed() == tt.wantOK {
				t.Fatalf("pushes ok = %v, overflowed = %v; want ok = %v", ok, o.Overflowed(), tt.wantOK)
			}
		})
	}
}

func TestOutboxPushWaitPaces(t *testing.T) {
	o := NewOutbox(10, nil)
	o.PushWait(make([]byte, 6))
	done := make(chan bool)
	go func() { _, ok := o.PushWait(make([]byte, 2)); done <- ok }()
	select {
	case <-done:
		t.Fatal("PushWait did not wait while the outbox was over half full")
	case <-time.After(50 * time.Millisecond):
	}
	o.Written(len(o.Take(nil)[0]))
	if ok := <-done; !ok {
		t.Fatal("PushWait failed after room was made")
	}
	go func() { o.PushWait(make([]byte, 6)); _, ok := o.PushWait(make([]byte, 6)); done <- ok }()
	time.Sleep(20 * time.Millisecond)
	o.Close()
	if ok := <-done; ok {
		t.Fatal("PushWait succeeded on a closed outbox")
	}
}

// Only a push past the limit makes a slow consumer; an outbox its
// connection closed (the client left) refuses pushes without being one.
func TestOutboxOverflowedOnlyPastTheLimit(t *testing.T) {
	full := NewOutbox(4, nil)
	full.SetBlocked(true)
	if _, ok := full.Push(make([]byte, 5)); ok || !full.Overflowed() {
		t.Fatalf("push past the limit: ok=%v overflowed=%v, want refused and overflowed", ok, full.Overflowed())
	}
	left := NewOutbox(4, nil)
	left.Close()
	if _, ok := left.Push(make([]byte, 1)); ok || left.Overflowed() {
		t.Fatalf("push after the connection closed: ok=%v overflowed=%v, want refused, not overflowed", ok, left.Overflowed())
	}
}

// CloseAndTake hands over what is queued, in order, and closes: pushes
// are refused after it, and a second call hands over nothing.
func TestOutboxCloseAndTake(t *testing.T) {
	o := NewOutbox(100, nil)
	for _, f := range []string{"a", "bb", "ccc"} {
		if _, ok := o.Queue([]byte(f)); !ok {
			t.Fatalf("queue %q refused", f)
		}
	}
	got := o.CloseAndTake(nil)
	if len(got) != 3 || string(got[0]) != "a" || string(got[1]) != "bb" || string(got[2]) != "ccc" {
		t.Fatalf("took %q, want [a bb ccc]", got)
	}
	if _, ok := o.Queue([]byte("d")); ok || !o.Closed() || o.Overflowed() {
		t.Fatalf("after CloseAndTake: queue ok=%v closed=%v overflowed=%v", ok, o.Closed(), o.Overflowed())
	}
	if again := o.CloseAndTake(nil); len(again) != 0 {
		t.Fatalf("second CloseAndTake took %q", again)
	}
}
