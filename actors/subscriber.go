package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/orgstream/orgstream/transport/socket"
)

// subscriber is a connection as its org actor sees it. The org actor alone
// reads and writes next and live; the outbox is the only part shared with
// the connection actor.
type subscriber struct {
	connID  string
	org     string
	user    string
	pid     *actor.PID // the connection actor
	out     *socket.Outbox
	deflate bool

	// next is the seq this connection needs next; frames below it are
	// duplicates and dropped, so every seam is closed by seq.
	next uint64
	// live is true once the subscriber caught up: new events are pushed to
	// it as they arrive. Until then the window and the log serve it.
	live bool
	// welcomed is true once its welcome was queued.
	welcomed bool
	// resolving is true while a replay goroutine works for it.
	resolving bool
}

// subscribers is an org's set of subscribers. It belongs to the org's hub
// entry, not to the org actor, so it survives the actor's restarts: the
// restarted actor catches every subscriber up from its position instead of
// dropping it.
type subscribers struct {
	list []*subscriber
	idx  map[string]int
}

func newSubscribers() *subscribers { return &subscribers{idx: map[string]int{}} }

func (s *subscribers) add(sub *subscriber) {
	s.idx[sub.connID] = len(s.list)
	s.list = append(s.list, sub)
}

func (s *subscribers) get(connID string) *subscriber {
	if i, ok := s.idx[connID]; ok {
		return s.list[i]
	}
	return nil
}

func (s *subscribers) remove(connID string) *subscriber {
	i, ok := s.idx[connID]
	if !ok {
		return nil
	}
	sub := s.list[i]
	last := len(s.list) - 1
	s.list[i] = s.list[last]
	s.idx[s.list[i].connID] = i
	s.list[last] = nil
	s.list = s.list[:last]
	delete(s.idx, connID)
	return sub
}
