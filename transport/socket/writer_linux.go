//go:build linux

package socket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawWriter writes a TCP socket with non-blocking write(2) and writev(2)
// through its syscall.RawConn: the callbacks return true, so a socket that
// would block never parks the caller, and no deadline is set. The runtime's
// fd lock still guards each call, so a write racing a Close fails cleanly
// instead of reaching a reused fd.
//
// The callbacks are method values made once, and their arguments and
// results travel in fields, so a write allocates nothing. Each half is used
// by one writer at a time: write under the outbox's lock on an idle outbox,
// writev by the holder of a taken batch.
type rawWriter struct {
	rc syscall.RawConn

	buf     []byte
	n       int
	err     error
	writeFn func(uintptr) bool

	iov      []unix.Iovec // from iovPool during a writev
	vn       int
	verr     error
	writevFn func(uintptr) bool
}

// maxIov is the most buffers one writev takes (Linux's IOV_MAX).
const maxIov = 1024

// iovPool holds the iovec arrays of writevs in progress: one per writing
// goroutine rather than one per connection, whose memory is the budget of
// an idle connection.
var iovPool = sync.Pool{New: func() any { return new([maxIov]unix.Iovec) }}

func newRawWriter(sock net.Conn) *rawWriter {
	tc, ok := sock.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.writeFn = w.doWrite
	w.writevFn = w.doWritev
	return w
}

// The calls are raw: the fd is non-blocking, so a call returns at once and
// the runtime's syscall bookkeeping (entersyscall/exitsyscall, about a
// tenth of a µs) buys nothing. A writev of one buffer is a write: the
// kernel then skips importing the iovec.

func (w *rawWriter) doWrite(fd uintptr) bool {
	w.n, w.err = rawWrite(fd, unsafe.Pointer(unsafe.SliceData(w.buf)), len(w.buf))
	return true
}

func (w *rawWriter) doWritev(fd uintptr) bool {
	if len(w.iov) == 1 {
		w.vn, w.verr = rawWrite(fd, unsafe.Pointer(w.iov[0].Base), int(w.iov[0].Len))
		return true
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
	w.vn, w.verr = int(n), nil
	if e != 0 {
		w.vn, w.verr = 0, e
	}
	return true
}

func rawWrite(fd uintptr, p unsafe.Pointer, n int) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(p), uintptr(n))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// write writes what of b the socket takes now. A socket that would block
// is no error: n is then 0.
func (w *rawWriter) write(b []byte) (n int, err error) {
	w.buf = b
	err = w.rc.Write(w.writeFn)
	n, werr := w.n, w.err
	w.buf, w.err = nil, nil
	if err == nil {
		err = werr
	}
	return settle(n, err)
}

// writev writes what of bufs the socket takes now and consumes it.
func (w *rawWriter) writev(bufs *net.Buffers) error {
	arr := iovPool.Get().(*[maxIov]unix.Iovec)
	defer iovPool.Put(arr)
	for len(*bufs) > 0 {
		w.iov = arr[:0]
		for _, b := range (*bufs)[:min(len(*bufs), maxIov)] {
			if len(b) > 0 {
				v := unix.Iovec{Base: &b[0]}
				v.SetLen(len(b))
				w.iov = append(w.iov, v)
			}
		}
		if len(w.iov) == 0 {
			consume(bufs, 0)
			continue
		}
		err := w.rc.Write(w.writevFn)
		n, werr := w.vn, w.verr
		clear(w.iov) // the pool holds no frame
		w.iov, w.verr = nil, nil
		if err == nil {
			err = werr
		}
		n, err = settle(n, err)
		consume(bufs, n)
		if err != nil || n == 0 {
			return err
		}
	}
	return nil
}

// settle maps a would-block (or interrupted) write to no bytes and no
// error, and wraps a real failure. The runtime refuses a raw write once a
// write deadline set on the conn has passed: that too is left to the
// writer, which bounds a blocked socket with deadlines of its own.
func settle(n int, err error) (int, error) {
	if err == nil {
		return n, nil
	}
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	return 0, fmt.Errorf("socket: write: %w", err)
}

// consume drops the first n bytes of bufs.
func consume(bufs *net.Buffers, n int) {
	for n > 0 && len(*bufs) > 0 {
		if l := len((*bufs)[0]); n < l {
			(*bufs)[0] = (*bufs)[0][n:]
			return
		}
		n -= len((*bufs)[0])
		(*bufs)[0] = nil
		*bufs = (*bufs)[1:]
	}
	for len(*bufs) > 0 && len((*bufs)[0]) == 0 {
		*bufs = (*bufs)[1:]
	}
}
