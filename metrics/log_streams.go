package metrics

import "slices"

// LogStream is one stream of the log and the server leading it, as the
// JSON metrics show it (PROTOCOL.md v2: "log":{"streams":[…]}): with the
// JetStream API closed to publishers, this is how an operator finds the
// node leading each stream.
type LogStream struct {
	Name string `json:"name"`
	// Leader is the server (node) name of the stream's leader; empty while
	// the stream has none (an election, a lost quorum) or did not answer.
	Leader string `json:"leader"`
}

// LogSnapshot is the "log" member of the JSON metrics.
type LogSnapshot struct {
	// Streams is never nil, so that the JSON has "streams":[] before the
	// first probe (while the log opens).
	Streams []LogStream `json:"streams"`
	// LeaderMoves counts the stream leaders this node stepped down to
	// spread the leaders over the nodes (persistence.LeaderBalancer).
	// Left out while zero, so that the member keeps the shape PROTOCOL.md
	// shows on a single node and before any move.
	LeaderMoves uint64 `json:"leader_moves,omitempty"`
}

// SetLogStreams records the log's streams as last probed. The node's log
// probe calls it every probe (about once a second), so a metrics request
// costs no request to the log.
func (m *Metrics) SetLogStreams(streams []LogStream) {
	s := slices.Clone(streams)
	m.logStreams.Store(&s)
}

// LogStreams returns a copy of what SetLogStreams last recorded (empty, not
// nil, before the first call).
func (m *Metrics) LogStreams() []LogStream {
	var s []LogStream
	if p := m.logStreams.Load(); p != nil {
		s = *p
	}
	return append(make([]LogStream, 0, len(s)), s...)
}

// Leaders maps each stream to its leader ("" while it has none), for
// readers of the JSON document (the harness, the e2e tests).
func (l LogSnapshot) Leaders() map[string]string {
	m := make(map[string]string, len(l.Streams))
	for _, s := range l.Streams {
		m[s.Name] = s.Leader
	}
	return m
}
