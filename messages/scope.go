package messages

// Scope is what one stream may see of its org's events (PROTOCOL.md "Scoped
// delivery"): the topics its token and query allow, and its user, whom an
// event with `to` must name. It is checked against the metadata of the
// already encoded shared frame (Frame.Topic, Frame.To), per connection per
// event, so Allows allocates nothing.
type Scope struct {
	// Topics are the patterns the stream receives (the query's when it
	// narrowed the token's, else the token's); nil means every topic.
	Topics []string
	// User is the stream's token sub.
	User string
}

// Scoped reports whether the stream has a topic scope: its welcome then
// carries "scoped":true.
func (s *Scope) Scoped() bool { return s.Topics != nil }

// Allows reports whether the stream may see an event of topic sent to the
// users in to (nil or empty: every user of the org).
func (s *Scope) Allows(topic string, to []string) bool {
	if len(to) > 0 && !named(to, s.User) {
		return false
	}
	return s.Topics == nil || MatchAny(s.Topics, topic)
}

// AllowsFrame reports whether the stream may see the event frame f; frames
// that are not events (no seq) always pass.
func (s *Scope) AllowsFrame(f *Frame) bool {
	return f.Seq == 0 || s.Allows(f.Topic, f.To)
}

func named(to []string, user string) bool {
	for _, u := range to {
		if u == user {
			return true
		}
	}
	return false
}
