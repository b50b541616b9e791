package actors

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
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

// Only a push past the limit makes a slow consumer; an outbox its
// connection closed (the client left) refuses pushes without being one.
func TestOutboxOverflowedOnlyPastTheLimit(t *testing.T) {
	full := newOutbox(4)
	if _, ok := full.push(make([]byte, 5)); ok || !full.hasOverflowed() {
		t.Fatalf("push past the limit: ok=%v overflowed=%v, want refused and overflowed", ok, full.hasOverflowed())
	}
	left := newOutbox(4)
	left.close()
	if _, ok := left.push(make([]byte, 1)); ok || left.hasOverflowed() {
		t.Fatalf("push after the connection closed: ok=%v overflowed=%v, want refused, not overflowed", ok, left.hasOverflowed())
	}
}

// The org actor cuts (4008, counted) a subscriber whose outbox overflowed,
// not one whose connection already closed its outbox.
func TestQueueCutsOnlySlowConsumers(t *testing.T) {
	f := messages.EncodeEvent(messages.Event{Seq: 1, Topic: "t", Time: time.Now(), Data: []byte(`"0123456789"`)})
	tests := []struct {
		name    string
		limit   int
		closed  bool
		wantCut bool
	}{
		{name: "room", limit: 1 << 10},
		{name: "overflow", limit: 8, wantCut: true},
		{name: "client left", limit: 1 << 10, closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &orgActor{subs: newSubscribers()}
			sub := &subscriber{connID: "c1", out: newOutbox(tt.limit)}
			sub.out.kicked = true // no flush to schedule: no actor context needed
			a.subs.add(sub)
			if tt.closed {
				sub.out.close()
			}
			ok := a.queue(nil, sub, &f)
			if ok == (tt.closed || tt.wantCut) {
				t.Fatalf("queue ok = %v", ok)
			}
			if cut := len(a.cuts) == 1; cut != tt.wantCut {
				t.Fatalf("cut = %v, want %v", cut, tt.wantCut)
			}
		})
	}
}
