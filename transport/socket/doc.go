// Package socket is the write side of a WebSocket connection, below the
// actors: the bounded outbox a connection's frames wait in, the writer that
// puts them on the wire without blocking where it can, and the epoll poller
// that watches idle sockets' reads with one goroutine for all of them.
//
// The fast path of a delivery is Outbox.Push on an idle outbox: it writes
// the frame at once with one non-blocking write(2), no deadline and no hop
// to another goroutine. Only a socket that would block (EAGAIN, or a
// partial write) queues the rest and asks its owner to flush:
//
//	kick, ok := out.Push(frame)
//	switch {
//	case !ok && out.Overflowed():
//		// a slow consumer: cut it (4008)
//	case kick:
//		// tell the connection's writer to Take and write the queue
//	}
//
// Outbox and Poller are safe for concurrent use. One goroutine at a time
// writes a socket: a direct write runs under the outbox's lock and only
// while nothing is queued or taken, and the connection's writer holds the
// batch it took until it calls Written.
package socket
