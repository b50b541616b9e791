// Package client is the Go client of orgstream's stream endpoint
// (PROTOCOL.md "Subscribing"): it follows one org's events over a
// WebSocket, in order, and reconnects resuming after the last event it
// delivered, so that an application sees every seq once, or a Reset that
// says which it will not see.
//
//	c, err := client.New(client.Config{
//		URL:   "ws://127.0.0.1:8080/v2/realtime/stream",
//		Token: token, // or TokenFunc, to renew tokens
//		OnEvent: func(e client.Event) {
//			handle(e.Seq, e.Topic, e.Data) // e.Data is valid until OnEvent returns
//		},
//		OnReset: func(r client.Reset) { refetchFromBackend(r.Head) },
//	})
//	if err != nil { ... }
//	err = c.Run(ctx) // blocks; reconnects by itself
//
// # Publishing
//
// A Publisher is the way to publish from Go (PROTOCOL.md "Publishing"). It
// sends to one org over HTTP (POST /v2/realtime/orgs/{org}/events with a
// publish token) or over NATS (PublisherConfig.NATS: requests on
// orgstream.publish.{org} with the publisher role's credentials, the same
// JSON body and answer), and gives every event an id unless the Message has
// one (NewID: 128 random bits). With ids, retrying is always safe: the
// daemon answers a known id with its first seq (200) instead of storing it
// again. So the Publisher retries what may succeed later (503, including
// outcome_unknown; 5xx from a proxy; 408, 429; network errors; no NATS
// responder; AttemptTimeout) with the same body, ids included, and
// full-jitter backoff, for up to RetryFor (60 s by default, at most
// MaxRetryFor, well inside the daemon's 2-minute dedup window). It never
// retries any other 4xx (ErrPublishRefused). When retries run out the error
// is ErrOutcomeUnknown and carries the ids: the events may or may not be
// stored; send them again with those ids.
//
//	p, err := client.NewPublisher(client.PublisherConfig{
//		URL: "http://127.0.0.1:8080", Org: "acme", Token: publishToken,
//	})
//	defer p.Close() // flushes what is queued
//	ack, err := p.Publish(ctx, client.Message{Topic: "orders.updated", Data: []byte(`{"id":42}`)})
//	// ack.Seq, ack.ID; ack.Duplicate when a lost answer was retried
//
// Publish, PublishAsync and PublishBatch queue their events, and a request
// carries everything queued when it leaves (up to MaxBatchEvents events and
// a 1 MiB body): the events handed over while a request is in flight go
// together in the next one. Many goroutines calling Publish, or one calling
// PublishAsync in a loop and waiting on the Pendings later, so publish at
// batch speed, each event with its own ack. Single events coalesce only
// once MinBatchEvents (32) are queued: the daemon's atomic batch costs as
// much as many single appends today. MaxInFlight (default 1) bounds
// the requests in flight; with 1, seqs follow the order of the calls. A
// caller's batch is never split; an event the client knows the daemon would
// refuse (a bad topic, over 1 MiB) goes alone, so its 4xx fails no
// neighbour. Close (or Shutdown, bounded by a context) sends what is queued
// and waits for the answers.
//
//	for _, o := range orders {
//		pd, err := p.PublishAsync(ctx, client.Message{Topic: "orders.updated", Data: o.JSON, ID: o.Key})
//		...
//		pending = append(pending, pd)
//	}
//	for _, pd := range pending {
//		ack, err := pd.Wait(ctx)
//		...
//	}
//
// A Publisher is safe for concurrent use. It runs one sender goroutine per
// request in flight while events are queued or in flight, none when idle.
//
// # Position
//
// The client keeps (epoch, last): the epoch of the org's log and the seq of
// the last event delivered to OnEvent. Every reconnection asks to resume
// after it (last_seq=last&epoch=epoch). The server then replays what was
// missed; the client drops duplicates (seq <= last: counted in
// Stats.Duplicates). A hole (seq > last+1) is legitimate when the stream
// has a topic scope (the welcome's Scoped; Config.Topics or the token's
// topics claim): it skips the events it may not see, and the client
// delivers across it (Stats.Holes). On an unscoped stream a hole may be an
// event published to other users, or a lost one: the client reports it to
// OnGap, drops the connection and resumes from last, and on that connection
// delivers the first event after last as it comes (the server replays from
// its log, so a lost event comes back and a legitimate hole costs one
// resume, never a loop). Config.TrustHoles skips that check.
//
// A fresh start (Config.Resume false) and a Reset set the position to
// (epoch, head) of the welcome or reset, without an event: everything up
// to head is either delivered or announced as not coming, so a reconnect
// before the next event resumes from head and loses nothing. The next event
// after a fresh welcome or a Reset, whatever its seq, becomes the new
// baseline (it is delivered unchecked; the server sends head+1); the checks
// apply from the one after it. After a welcome that refuses a resume the
// position is kept until the Reset that must follow, so a connection that
// ends between the two asks again.
//
// Position returns the position at any time; a program that persists it
// and starts a Client later with Config{Epoch, LastSeq, Resume: true}
// continues without a gap (or gets a Reset if the server no longer has
// what followed).
//
// # Reconnecting
//
// After a connection ends, the client reconnects at once after a close with
// 1001 (the node drains), 4008 (the client fell behind) or 4001 (the token
// expired: TokenFunc is asked for a new one), provided the connection had
// its welcome; it backs off after 4029 (from Config.BackoffTooMany, with at
// least half of each wait) and after anything else (full jitter between 0
// and min(BackoffMax, BackoffMin·2^attempt)). The attempt count starts over
// after a connection that delivered an event or stayed open for
// BackoffMax. Run gives up and returns the error on a refusal with 400, 403
// or another 4xx but 401, 408 and 429 (errors.Is ErrRefused), on a 401 or a
// 4001 with a static Token (ErrUnauthorized, ErrTokenExpired), and on a
// close with 1008 or 1009 (ErrPolicy). With a TokenFunc a 401 is retried
// with backoff and a fresh token; 503 and network errors are always
// retried.
//
// Against a cluster without a load balancer, Config.FallbackURLs lists the
// other nodes: after a failed attempt or a lost connection (anything but
// 4001, 4008 and 4029) the next attempt goes to the next node, and resumes
// there (every node serves every org with the same seqs).
//
// # Goroutines and memory
//
// A Client runs on the goroutine that calls Run, which is also the one that
// reads the socket and calls every callback, one at a time; it starts no
// goroutine of its own but for a moment when its context ends (to close the
// socket). Position, State, Stats, Done and Close are safe from any
// goroutine; Close also from a callback. A Client is used once: Run may be
// called only once.
//
// The hot path does not allocate: a frame that fits in the read buffer
// (Config.ReadBufferSize, 4 KiB by default) is decoded in place by a small
// JSON scanner, topics are interned and ts is parsed by hand; an event with
// an id costs one allocation, its ID string (BenchmarkDecodeEvent,
// BenchmarkReadEvents). A connection holds its read buffer, a small
// control-frame buffer, and a message buffer only for messages bigger than
// the read buffer or compressed (kept up to 32 KiB, dropped after a bigger
// one). Decompressors (32 KiB windows) are borrowed from a pool shared by
// all Clients for the time of one message, which the server's
// no-context-takeover compression allows.
package client
