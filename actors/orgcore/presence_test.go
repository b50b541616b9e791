package orgcore

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// A presence frame goes to the welcomed presence subscribers only, shared
// (the same bytes), as a control push; a subscriber still waiting for its
// bounds (not welcomed) and one that did not ask get nothing.
func TestPresence(t *testing.T) {
	cfg := Config{Epoch: "e1", WindowSize: 16, Retention: time.Minute, MaxQueueBytes: 1 << 20}
	now := time.Unix(1000, 0)
	win := NewWindow(0, cfg)
	for seq := uint64(1); seq <= 3; seq++ {
		f := messages.EncodeEvent(messages.Event{Seq: seq, Topic: "t", Time: now, Data: []byte(`{}`)})
		win.Add(seq, now, &f)
	}
	core := New(cfg, NewSubs[string](), win)
	subscribe := func(id string, presence bool, pos Position) {
		core.Subscribe(&Sub[string]{ID: id, Org: "acme", User: id, Presence: presence, Conn: id}, pos, now).Clear()
	}
	subscribe("plain", false, Position{})
	subscribe("p1", true, Position{})
	subscribe("p2", true, Position{Resume: true, Last: 2, Epoch: "e1"})
	// Its position is older than the window: the shell resolves it first.
	subscribe("waiting", true, Position{Resume: true, Last: 0, Epoch: "other"})

	f := messages.EncodePresence("alice", true)
	eff := core.Presence(&f)
	var got []string
	for _, p := range eff.Pushes {
		if &p.Bytes()[0] != &f.Plain[0] || p.Kind != PushControl {
			t.Fatalf("push to %s: not the shared frame as a control push", p.Sub.ID)
		}
		got = append(got, p.Sub.ID)
	}
	if len(got) != 2 || got[0] != "p1" || got[1] != "p2" || len(eff.Ops) != 0 {
		t.Fatalf("pushed to %v (ops %v), want [p1 p2]", got, eff.Ops)
	}
	eff.Clear()
	core.Unsubscribe("p1")
	if eff := core.Presence(&f); len(eff.Pushes) != 1 || eff.Pushes[0].Sub.ID != "p2" {
		t.Fatalf("after p1 left: %d pushes, want one to p2", len(eff.Pushes))
	}
}
