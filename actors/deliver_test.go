package actors

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/socket"
)

// A push refused because the outbox is full is an overflow (the org cuts
// the slow consumer, 4008, counted); one refused because the connection
// closed its outbox is not.
func TestDeliverOverflowsOnlySlowConsumers(t *testing.T) {
	f := messages.EncodeEvent(messages.Event{Seq: 1, Topic: "t", Time: time.Now(), Data: []byte(`"0123456789"`)})
	tests := []struct {
		name           string
		limit          int
		closed         bool
		wantOK, wantOv bool
	}{
		{name: "room", limit: 1 << 10, wantOK: true},
		{name: "overflow", limit: 8, wantOv: true},
		{name: "client left", limit: 1 << 10, closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := &subscriber{connID: "c1", out: socket.NewOutbox(tt.limit, nil)}
			if tt.closed {
				sub.out.Close()
			}
			kick, ok, overflowed := deliver(sub, &f)
			if ok != tt.wantOK || overflowed != tt.wantOv || kick != tt.wantOK {
				t.Fatalf("deliver = kick %v ok %v overflowed %v, want %v %v %v", kick, ok, overflowed, tt.wantOK, tt.wantOK, tt.wantOv)
			}
		})
	}
}
