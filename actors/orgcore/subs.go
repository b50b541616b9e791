package orgcore

import "github.com/orgstream/orgstream/messages"

// Sub is one subscriber of the org as the core sees it: who it is (for its
// welcome), how it reads (Enc: which shared form of each frame it gets),
// and where its stream stands. Conn is the
// shell's handle for the connection; the core never looks inside it.
type Sub[C any] struct {
	ID, Org, User string
	Enc           messages.Encoding
	// Presence is set for a stream opened with presence=true: it also
	// gets the org's presence frames (Core.Presence) once welcomed.
	Presence bool
	Conn     C
	// Scope is what the stream may see (PROTOCOL.md "Scoped delivery"):
	// an event it does not allow is skipped, never pushed, and its next
	// seq moves past it all the same, so every seam stays exact by seq.
	Scope messages.Scope

	// next is the seq this subscriber needs next; frames below it are
	// duplicates and never pushed, so every seam is closed by seq.
	next uint64
	// live is true once it caught up: each stored event is pushed to it as
	// it arrives. Until then the window and the log serve it.
	live bool
	// welcomed is true once its welcome was pushed.
	welcomed bool
	// resolving is true while the shell works for it (a Resolve or a
	// Replay effect not yet answered).
	resolving bool
	// pos and head are kept for its Resolve: where it asked to start and
	// the org's head then, which its welcome names.
	pos  Position
	head uint64
}

// Subs is an org's set of subscribers. The shell keeps it where it survives
// a restart of the org (the hub's entry) and hands it to each new Core, whose
// Restarted input catches every subscriber up from its own position instead
// of dropping it.
type Subs[C any] struct {
	list []*Sub[C]
	idx  map[string]int
}

// NewSubs returns an empty set.
func NewSubs[C any]() *Subs[C] { return &Subs[C]{idx: map[string]int{}} }

func (s *Subs[C]) add(sub *Sub[C]) {
	if i, ok := s.idx[sub.ID]; ok {
		s.list[i] = sub
		return
	}
	s.idx[sub.ID] = len(s.list)
	s.list = append(s.list, sub)
}

func (s *Subs[C]) get(id string) *Sub[C] {
	if i, ok := s.idx[id]; ok {
		return s.list[i]
	}
	return nil
}

func (s *Subs[C]) remove(id string) *Sub[C] {
	i, ok := s.idx[id]
	if !ok {
		return nil
	}
	sub := s.list[i]
	last := len(s.list) - 1
	s.list[i] = s.list[last]
	s.idx[s.list[i].ID] = i
	s.list[last] = nil
	s.list = s.list[:last]
	delete(s.idx, id)
	return sub
}
