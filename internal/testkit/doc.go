// Package testkit holds the helpers of orgstream's end-to-end tests: nodes
// started in-process on loopback (StartNode, StartNodes for a cluster),
// tokens (Token), publishing over HTTP (Publish, PublishEvent, PublishBatch,
// Post), a WebSocket client that decodes the frames of PROTOCOL.md (Dial,
// Client.ReadFrame, Client.ExpectWelcome, Client.CollectSeqs, CloseCode), a
// client that resumes on every disconnect and checks every seq on the fly
// (Follower), a frame-level client for what a library will not do (RawDial,
// RawDialer: RSV1, data and oversized frames, unanswered pings, a small
// receive buffer) and assertions on seqs (AssertRange, AssertAll,
// CheckRange).
//
//	n := testkit.StartNode(t, nil)
//	pub := n.Token(t, "acme", "backend", time.Minute, true)
//	c := testkit.Dial(ctx, t, n.StreamURL(n.Token(t, "acme", "alice", time.Minute, false), nil), nil)
//	w := c.ExpectWelcome(ctx)
//	seq := testkit.PublishEvent(t, n.BaseURL(), "acme", pub, "orders.updated", `{"n":1}`)
//	seqs, err := c.CollectSeqs(ctx, 1)
//
// Goroutine safety: functions taking a testing.TB call t.Fatal and must run
// on the test's goroutine; from other goroutines use the variants that
// return an error (Post, DialErr, Client.ReadFrame, Client.ReadWelcome,
// Client.CollectSeqs, Follower.Run, RawDial, CheckRange). A Client or
// RawClient is used by one goroutine at a time; a Follower's accessors are
// safe while it runs.
//
// A cancelled or expired context passed to a Client read closes the
// connection (github.com/coder/websocket semantics): use one deadline per
// phase, not per frame, when the connection must outlive the read.
//
// Set ORGSTREAM_TEST_LOG=1 to see the node's logs (zaptest) in test output.
package testkit
