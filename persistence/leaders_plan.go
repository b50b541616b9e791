package persistence

// placement is one replicated stream as its leader's info answer shows it:
// who leads it and which other servers hold a replica.
type placement struct {
	stream string
	leader string // server name; empty while the stream has no leader
	peers  []peer // the replicas other than the leader's
}

// peer is one follower replica of a stream.
type peer struct {
	name string
	// current is JetStream's "caught up with the leader"; a replica that is
	// not current would have to catch up before it could take writes, so a
	// leader is never moved onto it.
	current bool
	// offline is JetStream's "the server is not reachable".
	offline bool
}

// eligible tells whether the replica may take the stream's leadership.
func (p peer) eligible() bool { return p.current && !p.offline }

// settled tells whether the stream looks as it will stay: a leader and
// every replica current and online. A stream that is not settled (a server
// down or catching up after a restart) is looked at again soon, because
// that is when a server comes back and its share of leaders should move
// to it; the daemon cannot subscribe to $SYS's server events to learn it.
func (p placement) settled() bool {
	if p.leader == "" {
		return false
	}
	for _, r := range p.peers {
		if !r.eligible() {
			return false
		}
	}
	return true
}

// move is one leader step-down: stream moves from its leader to the
// preferred server to.
type move struct {
	stream, from, to string
	fromLeads        int // how many of the streams from leads before the move
	toLeads          int // and to
}

// planMove picks at most one stream that self leads and should hand over,
// so that the leaders of ps spread within ±1 over the servers holding
// their replicas.
//
// Only self's own streams are ever moved: each server decides for the
// streams it leads, so two servers never fight over one stream (a stream
// has one leader, so one decider). A move is worth it only toward a server
// that leads at least two streams fewer than self: then the spread (the sum
// of the squares of the counts) strictly shrinks and the moves end; a
// difference of one is already balanced. Among such moves it picks the
// least loaded target, ties broken by server name and then by the order
// of ps, so that every server computes the same plan from the same view
// (a repeated or crossed request is refused by JetStream rather than
// undoing a move).
//
// Streams without a leader or without other replicas (R1: nothing to move
// to) are left out of the counts.
func planMove(self string, ps []placement) (move, bool) {
	leads := leaderCounts(ps)
	mine := leads[self]
	var best move
	found := false
	for _, p := range ps {
		if p.leader != self || len(p.peers) == 0 {
			continue
		}
		for _, r := range p.peers {
			if !r.eligible() || r.name == self || leads[r.name] > mine-2 {
				continue
			}
			c := move{stream: p.stream, from: self, to: r.name, fromLeads: mine, toLeads: leads[r.name]}
			if !found || c.toLeads < best.toLeads || (c.toLeads == best.toLeads && c.to < best.to) {
				best, found = c, true
			}
		}
	}
	return best, found
}

// leaderCounts counts, for each online server holding a replica of a
// replicated stream in ps, how many of those streams it leads (zero
// included). Offline servers are left out: they lead nothing until they
// come back, and then they count again.
func leaderCounts(ps []placement) map[string]int {
	leads := map[string]int{}
	for _, p := range ps {
		if p.leader == "" || len(p.peers) == 0 {
			continue
		}
		leads[p.leader]++
		for _, r := range p.peers {
			if !r.offline {
				leads[r.name] += 0
			}
		}
	}
	return leads
}
