// Package transport is orgstream's front door: the HTTP routes of
// PROTOCOL.md, the WebSocket upgrade of the stream, authentication of
// streams and publishes (through transport/auth), the publish endpoint over
// HTTP and NATS, health and metrics. It turns bytes into calls on three
// ports (Publisher, Streams, Readiness) and holds no business logic.
//
// # Routing
//
// One TCP listener serves everything. Each accepted connection gets a
// goroutine that reads the request head (deadline Config.HeaderTimeout,
// 4 KiB buffer, up to 8 KiB, 431 beyond) and parses it with a small parser
// over the peeked bytes:
//
//   - GET /v2/realtime/stream with "Upgrade: websocket" stays on the raw
//     path. It is checked before any upgrade, in this order: readiness
//     (503 not_ready/draining), query (400 invalid_query), token (401
//     missing_token/invalid_token/token_expired; from the Authorization
//     Bearer header, else the access_token parameter), the token's org
//     (403 forbidden for "*"), Origin (403 origin_not_allowed), then the
//     handshake itself (400 bad_handshake,
//     426). A refusal is a JSON response written on the raw connection,
//     which is then closed; no WebSocket is opened. An accepted request is
//     upgraded by gobwas/ws's Upgrader on the raw connection, negotiating
//     permessage-deflate with server_no_context_takeover, and handed to
//     Streams.Open: the *net.TCPConn itself when the client sent nothing
//     behind its handshake, else a wrapper that returns those bytes first.
//   - Everything else goes, with the peeked bytes in front, to a net/http
//     server through an in-process listener: /healthz, /readyz, /metrics,
//     /v2/realtime/metrics, POST /v2/realtime/orgs/{org}/events, POST
//     /v2/realtime/tickets (connect tickets, tickets.go: with
//     Config.Tickets only), 426 for a
//     plain GET of the stream, the console (GET / and /console/…, package
//     transport/console; GET /v2/console/config), POST /v2/dev/tokens with
//     Config.Dev only, and JSON 404/405. A WebSocket upgrade that
//     reaches net/http (a later request on a keep-alive connection) passes
//     the same checks and is upgraded by hijacking. GET /v2/realtime/sse
//     (Server-Sent Events, sse.go) passes the same checks but the
//     handshake, then Last-Event-ID; its connection is hijacked and handed
//     to Streams.Open with Stream.SSE set: Streams writes the response.
//
// With Config.MetricsListen, /metrics and /v2/realtime/metrics are served by
// a second net/http server on that address only (404 on the main one).
//
// Every error response has the body {"error":"…","code":"…"}; /readyz
// answers {"status":"…","code":"…"} only. Refusals are logged at Info,
// sampled per code (log_sample.go).
//
// # Publishing
//
// HTTP publishes (token with scope publish for the org, or "*") and NATS
// requests on "orgstream.publish.<org>" (queue group "orgstream") share one
// code path: parse with messages.ParsePublish, check readiness, call
// Publisher.Publish within Config.PublishTimeout. The NATS reply is the JSON
// body the HTTP answer would have, with the HTTP status in the
// "Orgstream-Status" header. NATS requests carry no token: whoever may
// publish on the NATS server may publish to any org, so NATS access
// (accounts, permissions, or the embedded server's loopback listener) is the
// trust boundary.
//
// # Goroutines and shutdown
//
// Start starts the accept loop, the net/http Serve goroutine (two with
// Config.MetricsListen) and (with
// Config.NATS) the NATS subscription; the accept loop starts one short-lived
// goroutine per connection that lasts until the connection is refused,
// handed to net/http or handed to Streams. net/http runs its own goroutines
// per connection and request. NATS requests run on their own goroutines, at
// most 64 at once. Streams.Open must not block: from then on the connection
// belongs to Streams, and transport never touches it again.
//
// Shutdown closes the listener, cuts handshakes in progress, unsubscribes the
// NATS responder, shuts the net/http servers down (in-flight requests
// finish, until ctx is done) and waits for every goroutine above. It does
// not close open streams (Streams owns them) nor the NATS connection.
// Readiness should report ErrDraining before Shutdown is called, so that
// /readyz turns 503 while the listener still answers.
//
// A Server's methods are safe for concurrent use.
//
//	srv, err := transport.New(transport.Config{
//		Listen:    "127.0.0.1:8080",
//		Verifier:  verifier, // auth.NewVerifier
//		Publisher: orgs,   // the org actors' writer
//		Streams:   conns,  // the connection actors
//		Readiness: node,
//		Metrics:   m,
//		Logger:    logger,
//		NATS:      nc,
//	})
//	if err != nil {
//		return err
//	}
//	if err := srv.Start(); err != nil {
//		return err
//	}
//	defer srv.Shutdown(context.Background())
//
// No token ever reaches a log: requests are logged by path only, and
// redactQuery/redactURL/redactText guard any place a URL or free text from
// net/http is logged.
package transport
