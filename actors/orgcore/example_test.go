package orgcore_test

import (
	"fmt"
	"time"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/messages"
)

// A subscriber joins an org whose window holds 1..2, then event 3 is stored:
// the shell is asked to push the welcome, and then event 3.
func Example() {
	cfg := orgcore.Config{Epoch: "e1", WindowSize: 16, Retention: time.Minute, MaxQueueBytes: 1 << 20}
	subs := orgcore.NewSubs[string]()
	core := orgcore.New(cfg, subs, orgcore.NewWindow(0, cfg))
	now := time.Unix(1000, 0)
	for seq := uint64(1); seq <= 3; seq++ {
		f := messages.EncodeEvent(messages.Event{Seq: seq, Topic: "t", Time: now, Data: []byte(`{}`)})
		if seq == 3 {
			eff := core.Subscribe(&orgcore.Sub[string]{ID: "c1", Org: "acme", User: "u", Conn: "conn 1"},
				orgcore.Position{}, now)
			fmt.Println(len(eff.Pushes), "push to", eff.Pushes[0].Sub.Conn, "(its welcome)")
		}
		for _, p := range core.Stored(seq, now, &f).Pushes {
			fmt.Println("push event", seq, "to", p.Sub.Conn)
		}
	}
	// Output:
	// 1 push to conn 1 (its welcome)
	// push event 3 to conn 1
}
