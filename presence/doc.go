// Package presence is cluster-wide presence: which users of an org have
// streams open on any node, kept in a JetStream KV bucket
// (persistence.PresenceBucket).
//
// Each node (Tracker) writes one entry per org it has streams of, holding
// its users' stream counts, only when those counts change, at most once per
// Config.Debounce; and publishes a heartbeat on core NATS every
// Config.Heartbeat (persistence.PresencePrefix). Every node
// watches the whole bucket and sums the entries (Presence), telling
// Config.OnChange when a user's first stream opens or its last closes
// anywhere. A node whose heartbeat went unseen for Config.Stale is dropped
// and its keys are purged by every survivor, so a node killed with kill -9
// leaves presence without a clean leave. The cost grows with connects and
// disconnects (debounced) and a constant heartbeat per node, never with
// events. docs/CLUSTER.md "Presence" has the design and its times.
//
//	tr, err := presence.Start(ctx, presence.Config{Conn: nc, Node: "n1", OnChange: func(c presence.Change) {}})
//	if err != nil { … }
//	defer tr.Stop(ctx)
//	tr.UserStreams("acme", "alice", 1) // from the hub's per-user counts
//	p, _ := tr.Presence("acme")         // {"org":"acme","connections":1,"users":[…]}
//
// A Tracker's methods are safe for concurrent use.
package presence
