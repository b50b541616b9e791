// Package socket is the write side of a WebSocket connection, below the
// actors: the bounded outbox a connection's frames wait in, the writer that
// puts them on the wire without blocking where it can, and the epoll poller
// that watches idle sockets' reads with one goroutine for all of them.
//
// A frame reaches the wire from the goroutine that produced it, with no
// deadline and no hop to another goroutine, whenever the socket takes it at
// once. A lone frame (a pong, a ping) goes by Push, which writes it with
// one write(2) when the outbox is idle. A fan-out queues each frame and
// flushes each outbox once its burst is queued, so a backlog leaves in one
// writev per connection, not a syscall per frame:
//
//	kick, ok := out.Queue(frame)
//	if !ok && out.Overflowed() {
//		// a slow consumer: cut it (4008)
//	}
//	// ... the rest of the burst, then, for each outbox that kicked:
//	if out.Flush() {
//		// the socket would block: the connection's writer takes the rest
//		// (Take, write with a deadline, Written)
//	}
//
// Outbox and Poller are safe for concurrent use. One goroutine at a time
// writes a socket: Push and Flush write under the outbox's lock and only
// while no batch is taken, and the writer holds the batch it took until it
// calls Written. A frame whose start went out is always completed before
// anything else: the rest of it is the first thing queued, and Close keeps
// it (CloseAndTake) for the close frame to follow.
package socket
