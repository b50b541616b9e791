// Package node wires one orgstream daemon: the NATS connection (an embedded
// nats-server with JetStream on Config.DataDir, or Config.NATSURL), the org
// log on JetStream, the actors (org actors under their supervisor,
// connection actors, heartbeat) and the HTTP/WebSocket server of
// PROTOCOL.md. cmd/orgstream binds flags to a Config; tests start a Node
// in-process.
//
//	n, err := node.Start(ctx, node.Config{
//		Listen:     "127.0.0.1:0",
//		DataDir:    dir,
//		JWTSecret:  secret,
//		NATSListen: "off",
//	})
//	if err != nil {
//		return err
//	}
//	defer n.Shutdown(context.Background())
//	fmt.Println("serving on", n.Addr(), "epoch", n.Epoch())
//
// Start returns once the node serves and is ready, or fails with whatever it
// started stopped again. Shutdown drains (readiness 503, new streams and
// publishes refused, open streams closed with 1001 spread over
// Config.DrainPeriod), flushes the log and stops every part; it is safe to
// call twice and from any goroutine. The accessors (Addr, NATSURL, Epoch,
// Metrics, Hub, Ready) are safe for concurrent use.
//
// # Tests
//
// The package's tests are orgstream's end-to-end contract suite: each starts
// real nodes in-process (embedded NATS, loopback HTTP and WebSocket) through
// internal/testkit and checks one clause of PROTOCOL.md or one invariant of
// DESIGN.md (see each test's comment for the clause it covers).
package node
