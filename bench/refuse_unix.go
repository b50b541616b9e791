//go:build unix

package bench

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// refusedAddr is a loopback address that refuses every connection and
// that nobody else can take: a TCP socket bound to a free port of
// 127.0.0.1 that never listens. A dial of it is answered with a reset
// (ECONNREFUSED) at once. Without SO_REUSEADDR on it, no later bind of the
// port succeeds (Linux lets two sockets share a port only when both set
// it), so a port that was merely closed cannot be taken by a daemon
// started later. Close releases it.
type refusedAddr struct {
	fd   int
	addr string
}

func newRefusedAddr() (*refusedAddr, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: refused address: socket: %w", ErrDaemon, err)
	}
	syscall.CloseOnExec(fd) // the daemons must not inherit it
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("%w: refused address: bind: %w", ErrDaemon, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("%w: refused address: getsockname: %w", ErrDaemon, err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("%w: refused address: unexpected %T", ErrDaemon, sa)
	}
	return &refusedAddr{fd: fd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(in.Port))}, nil
}

func (r *refusedAddr) Close() error { return syscall.Close(r.fd) }
