package actors

import (
	"testing"
	"time"
)

func TestOutboxBoundsAndKicks(t *testing.T) {
	o := newOutbox(10)
	if kick, ok := o.push(make([]byte, 4)); !kick || !ok {
		t.Fatalf("first push: kick=%v ok=%v", kick, ok)
	}
	if kick, ok := o.push(make([]byte, 4)); kick || !ok {
		t.Fatalf("second push: kick=%v ok=%v, want no kick", kick, ok)
	}
	got := o.take(nil)
	if len(got) != 2 {
		t.Fatalf("took %d frames, want 2", len(got))
	}
	// Taken bytes still count until written.
	if _, ok := o.push(make([]byte, 4)); ok {
		t.Fatal("push past the limit (8 in flight + 4 > 10) succeeded")
	}
	if _, ok := o.push([]byte{1}); ok {
		t.Fatal("push after overflow succeeded: the outbox must stay closed")
	}
	o.written(8)
	if !o.isClosed() {
		t.Fatal("outbox not closed after overflow")
	}
}

func TestOutboxPushWaitPaces(t *testing.T) {
	o := newOutbox(10)
	o.pushWait(make([]byte, 6))
	done := make(chan bool)
	go func() { _, ok := o.pushWait(make([]byte, 2)); done <- ok }()
	select {
	case <-done:
		t.Fatal("pushWait did not wait while the outbox was over half full")
	case <-time.After(50 * time.Millisecond):
	}
	o.written(len(o.take(nil)[0]))
	if ok := <-done; !ok {
		t.Fatal("pushWait failed after room was made")
	}
	go func() { o.pushWait(make([]byte, 6)); _, ok := o.pushWait(make([]byte, 6)); done <- ok }()
	time.Sleep(20 * time.Millisecond)
	o.close()
	if ok := <-done; ok {
		t.Fatal("pushWait succeeded on a closed outbox")
	}
}
