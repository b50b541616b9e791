// Package persistence is orgstream's durable, ordered, per-org event log
// (DESIGN.md): append with a per-org seq 1, 2, 3, … without holes, read from
// a seq, head, bounds, epoch, retention, and a live feed of stored events.
//
// Log is the interface. JetStreamLog implements it on NATS JetStream, either
// on an in-process server (Embedded, started by StartEmbedded) or on an
// existing NATS server or cluster (--nats-url). MemoryLog implements it in
// memory with the same semantics, for unit tests of the actors.
//
// # Layout on JetStream
//
// P file-backed streams, ORGSTREAM_P0 … ORGSTREAM_P<P-1> (JetStreamConfig.
// Partitions, partitions.go), hold the orgs' events, each org in partition
// PartitionOf(org, P), and one more, ORGSTREAM_HEADS, every org's head marker
// (a stream per org does not scale: each replicated stream is a Raft group;
// one stream for all means one leader taking every write):
//
//   - orgstream.events.p<i>.<org> (ORGSTREAM_P<i>): the org's events. Payload = the
//     event's Data; headers Orgstream-Seq, Orgstream-Topic, Orgstream-Id,
//     Orgstream-Time (RFC 3339, UTC, set at Append), Orgstream-To (the
//     event's "to" as an ASCII JSON array, absent for every user). MaxAge = Retention,
//     MaxMsgsPerSubject = MaxEventsPerOrg, Duplicates = the dedup window.
//   - orgstream.heads.<org> (ORGSTREAM_HEADS, no MaxAge, one message per
//     subject): the org's head marker, so that the counter outlives
//     retention and restarts (see log_jetstream_head.go).
//   - orgstream.live.<org>: not stored; the org's partition stream
//     republishes each stored event there. Follow subscribes to it, and delivers a live message as
//     it came only when its headers show it is that republish of the next
//     event; anything else is checked against the log, and refused as forged
//     when the log does not hold it (log_jetstream_live.go). Nothing
//     subscribes to orgstream.events.*: a publish JetStream refuses still
//     reaches plain subscribers of its subject.
//
// orgstream never leaves a hole in an org's log, but an operator may delete
// a message from its middle; Read stops before such a hole, Follow jumps
// over it, and Bounds names the start of the contiguous tail after it
// (log_jetstream_holes.go).
//
// Appends use optimistic concurrency (Nats-Expected-Last-Subject-Sequence):
// concurrent writers of one org, on one node or several, get ErrConflict and
// retry after Head (which, after a conflict, reads from the stream leaders:
// a replica's Direct Get may lag); no locks, no leader election. A batch is
// one JetStream atomic batch. The epoch and the partition count are recorded
// in the heads stream's metadata at the store's first open
// (log_jetstream_open.go); a store written before partitions (one stream
// ORGSTREAM) is moved into them then (log_jetstream_upgrade.go).
//
// # Goroutines
//
// Every Log method, Embedded method and Follower.Stop is safe for concurrent
// use. A Follower's fn is called serially, by one goroutine at a time; an
// idle Follower holds no goroutine (the memory log starts one per Append
// that wakes it, the JetStream log routes live messages through its
// dispatcher and starts a worker only for reads of the log: see
// log_jetstream_feed.go). Stop (or the log's Close) ends the feed and waits
// until fn has returned, except when called from inside fn. JetStreamLog
// also owns one goroutine (head-marker writes and repair), the live feed's
// dispatcher and ticker, and two NATS subscriptions (head-marker acks,
// stream leader advisories), all ended by Close, which first writes the pending head markers (for at most
// 2s or RequestTimeout). Neither log closes the NATS connection.
//
// # Example
//
//	e, err := persistence.StartEmbedded(persistence.EmbeddedConfig{
//		DataDir: dir, Listen: persistence.ListenOff,
//	})
//	if err != nil { … }
//	defer e.Shutdown()
//	nc, err := e.Connect()
//	if err != nil { … }
//	defer nc.Close()
//	log, err := persistence.OpenJetStream(ctx, persistence.JetStreamConfig{Conn: nc})
//	if err != nil { … }
//	defer log.Close()
//
//	h, err := log.Head(ctx, "acme")
//	for {
//		res, err := log.Append(ctx, "acme", h, []messages.Draft{{Topic: "orders.updated", Data: data}})
//		if errors.Is(err, persistence.ErrConflict) {
//			if h, err = log.Head(ctx, "acme"); err == nil {
//				continue
//			}
//		}
//		…                        // err, or res.Seqs[0] is durable
//		break
//	}
//
//	f, err := log.Follow("acme", lastSeen, func(ev messages.Event) { … })
//	defer f.Stop()
//
// The runnable version is Example in example_test.go.
package persistence
