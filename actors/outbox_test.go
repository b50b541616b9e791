package actors

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/socket"
)

// The org actor cuts (4008, counted) a subscriber whose outbox overflowed,
// not one whose connection already closed its outbox. The outbox's own
// rules are tested in transport/socket.
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
			sub := &subscriber{connID: "c1", out: socket.NewOutbox(tt.limit, nil)}
			// A flush is already pending: no actor context needed.
			if kick, ok := sub.out.Push([]byte{0}); !kick || !ok {
				t.Fatal("first push not queued")
			}
			a.subs.add(sub)
			if tt.closed {
				sub.out.Close()
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
