package actors

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gobwas/ws"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/socket"
)

// Close codes the server sends (PROTOCOL.md).
const (
	CloseNormal         = 1000
	CloseGoingAway      = 1001 // draining, or the client answered no pings
	ClosePolicy         = 1008 // the client sent a data frame
	CloseTooBig         = 1009 // the client sent a frame over MaxClientFrame
	CloseTryAgain       = 1011 // the log could not serve the replay
	CloseTokenExpired   = 4001
	CloseSlowConsumer   = 4008
	CloseTooManyStreams = 4029
)

// MaxClientFrame is the largest frame payload a client may send.
const MaxClientFrame = 64 << 10

// conn is the connection actor of one WebSocket. Frames reach its socket
// straight from the pusher when the socket is idle (socket.Outbox); the
// actor writes what queued behind a socket that would block, in one writev
// per flush, and runs the closing handshake (closeState). A reader (the
// poller's, or a goroutine of the conn's own for sockets the poller cannot
// watch) handles the client's control frames.
type conn struct {
	env    *connEnv
	id     string
	stream messages.Stream
	sock   net.Conn
	out    *socket.Outbox
	entry  *orgEntry
	sub    *subscriber
	pid    *actor.PID // set in start; the actor's and its reader's
	opened time.Time
	// ref is the actor's PID for everyone else (heartbeat, drain); nil
	// until the actor is spawned.
	ref atomic.Pointer[actor.PID]

	// lastRead is when the client last sent a frame (unix nanos); the
	// heartbeat closes a connection silent for two ping intervals.
	lastRead atomic.Int64
	// expired is set once the 4001 close was requested.
	expired atomic.Bool
	// silenced is set once the "no pong" close was requested.
	silenced atomic.Bool
	// slot picks the heartbeat sweep that pings this connection (see
	// Hub.heartbeat): consecutive connections get consecutive sweeps.
	slot uint64

	started bool
	cs      closeState
	linger  *time.Timer // ends the linger of a polled connection
	batch   [][]byte
	// reg is the poller's watch of the socket; nil when a reader goroutine
	// reads it instead.
	reg *socket.Registration
}

// connEnv is what a connection sees of its hub: settings, a counter, the
// poller, the hub's goroutine group and its bookkeeping when the
// connection ends. One is shared by all connections of a hub.
type connEnv struct {
	log          *zap.Logger
	writeTimeout time.Duration
	closeLinger  time.Duration
	slowCuts     *atomic.Uint64
	poller       *socket.Poller
	wg           *sync.WaitGroup
	// closed forgets the connection and unsubscribes it from its org.
	closed func(*conn)
}

func (c *conn) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.start(ctx)
	case *flush:
		c.flush(ctx)
	case *closeConn:
		if m.fromPeer {
			c.do(ctx, c.cs.peerClose(m.code))
		} else {
			c.do(ctx, c.cs.serverClose(m.code, m.reason))
		}
	case *writeDone:
		c.onWriteDone(ctx, m)
	case *peerGone:
		c.do(ctx, c.cs.peerGone())
	case *actor.Stopped:
		c.finish()
	}
}

// do carries out what the closing handshake decided.
func (c *conn) do(ctx actor.Context, step closeStep) {
	if step.counted {
		c.env.slowCuts.Add(1)
	}
	if c.cs.phase != phaseOpen && step.act != actSendClose {
		c.out.Close() // after a direct write in progress; none follows
	}
	switch step.act {
	case actFlush:
		c.flush(ctx)
	case actSendClose:
		c.sendClose(ctx)
	case actLinger:
		if c.stream.SSE != nil {
			// No closing handshake: the end is written, the socket closes.
			c.do(ctx, c.cs.peerGone())
			return
		}
		c.startLinger(ctx)
	case actStop:
		ctx.Stop(ctx.Self())
	}
}

func (c *conn) start(ctx actor.Context) {
	if c.started {
		return // restarted after a panic: the reader already runs
	}
	c.started = true
	c.pid = ctx.Self()
	c.sub.pid = c.pid
	root := ctx.ActorSystem().Root
	c.reg = c.env.poller.Add(c.sock, func(r *socket.Registration) { c.onReadable(root, r) })
	if c.reg == nil {
		c.env.wg.Add(1)
		go c.readLoop(root)
	}
	ctx.Send(c.entry.pid, &subscribe{sub: c.sub, pos: position{
		resume: c.stream.Resume, last: c.stream.LastSeq, epoch: c.stream.Epoch,
	}, stream: c.stream})
}

// fastWrite is how long a write that would block may hold the connection
// worker. A socket that takes longer (its client reads slowly) is finished
// on a goroutine of its own, so that a slow client never holds up the
// others' writes.
const fastWrite = 20 * time.Millisecond

// writeDone reports the end of a write finished off the worker pool.
type writeDone struct {
	n          int
	frames     [][]byte
	closeFrame bool
	err        error
}

// flush writes everything queued in one writev: the frames a socket that
// would block left behind, or a socket without direct writes.
func (c *conn) flush(ctx actor.Context) {
	if !c.cs.canWrite() {
		return // a write in flight flushes again when it is done
	}
	if err := c.out.Err(); err != nil {
		c.do(ctx, c.cs.writeDone(err, false)) // a direct write failed
		return
	}
	frames := c.out.Take(c.batch)
	if len(frames) == 0 {
		return
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	done, err := c.send(ctx, &writeDone{n: n, frames: frames})
	if !done {
		c.batch = nil // the goroutine holds frames
		return
	}
	c.release(n, frames, err)
	if err != nil {
		c.do(ctx, c.cs.writeDone(err, errors.Is(err, os.ErrDeadlineExceeded)))
	}
	// Frames pushed meanwhile kicked a flush of their own.
}

// send writes w's frames; done is false when the socket was too slow and a
// goroutine finishes the write with the full write timeout, reporting w
// back to the actor. What the socket takes at once is written without a
// deadline; only a socket that would block gets one.
func (c *conn) send(ctx actor.Context, w *writeDone) (done bool, err error) {
	bufs := net.Buffers(w.frames)
	if err := c.out.TryWrite(&bufs); err != nil || len(bufs) == 0 {
		return true, err
	}
	_ = c.sock.SetWriteDeadline(time.Now().Add(fastWrite))
	_, err = bufs.WriteTo(c.sock)
	if !errors.Is(err, os.ErrDeadlineExceeded) || len(bufs) == 0 {
		// The runtime checks deadlines on raw writes too: a stale one
		// would fail the next direct write.
		_ = c.sock.SetWriteDeadline(time.Time{})
		return true, err
	}
	c.cs.writeStarted()
	c.out.SetBlocked(true) // from now on frames piling up past the limit cut
	self, root := ctx.Self(), ctx.ActorSystem().Root
	c.env.wg.Add(1)
	go func() {
		defer c.env.wg.Done()
		_ = c.sock.SetWriteDeadline(time.Now().Add(c.env.writeTimeout))
		_, w.err = bufs.WriteTo(c.sock)
		_ = c.sock.SetWriteDeadline(time.Time{})
		root.Send(self, w)
	}()
	return false, nil
}

func (c *conn) onWriteDone(ctx actor.Context, w *writeDone) {
	c.out.SetBlocked(false)
	if w.closeFrame {
		c.do(ctx, c.cs.closeWritten(w.err))
		return
	}
	c.release(w.n, w.frames, w.err)
	c.do(ctx, c.cs.writeDone(w.err, errors.Is(w.err, os.ErrDeadlineExceeded)))
}

// release hands a written batch's bytes back to the outbox and keeps its
// storage for the next. After a failed write the outbox closes first: the
// batch may have stopped mid-frame, and once Written makes the outbox idle
// a pusher would write behind it.
func (c *conn) release(n int, frames [][]byte, err error) {
	if err != nil {
		c.out.Close()
	}
	c.out.Written(n)
	clear(frames)
	if cap(frames) > 64 {
		frames = nil // keep no large buffer while idle
	}
	c.batch = frames[:0]
}

// sendClose writes our close frame; the reader then waits briefly for the
// client's answer before the socket closes (so the frame is not lost to a
// reset).
func (c *conn) sendClose(ctx actor.Context) {
	// What was queued before the close (a drain, an expired token, an
	// org's cut after a jump) goes first, in order, then the close frame.
	// An outbox that overflowed (a client not reading) was closed then and
	// dropped its queue: only the end of a frame a direct write started is
	// left to write.
	frames := c.out.CloseAndTake(nil)
	if c.stream.SSE != nil {
		// After CloseAndTake: no push can follow the trailer's checksum.
		frames = append(frames, c.sseEnd())
	} else {
		frames = append(frames, ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(c.cs.code), c.cs.reason))))
	}
	if done, err := c.send(ctx, &writeDone{frames: frames, closeFrame: true}); done {
		c.do(ctx, c.cs.closeWritten(err))
	}
}

// startLinger bounds the wait for the client's close frame.
func (c *conn) startLinger(ctx actor.Context) {
	_ = c.sock.SetReadDeadline(time.Now().Add(c.env.closeLinger))
	if c.reg.Active() {
		// No reader waits on the deadline: end the linger with a timer.
		self, root := ctx.Self(), ctx.ActorSystem().Root
		c.linger = time.AfterFunc(c.env.closeLinger, func() { root.Send(self, &peerGone{}) })
	}
}

func (c *conn) finish() {
	if c.linger != nil {
		c.linger.Stop()
	}
	c.out.Close()
	c.reg.Remove() // before the close: the fd may be reused after it
	_ = c.sock.Close()
	c.env.closed(c)
	c.env.log.Info("stream closed",
		zap.String("conn_id", c.id), zap.String("org", c.stream.Org), zap.String("user", c.stream.User),
		zap.String("remote", c.stream.RemoteAddr), zap.Uint16("code", c.cs.code),
		zap.String("by", c.cs.by), zap.Duration("duration", time.Since(c.opened)))
}

// readLoop is the reader goroutine of a connection the poller cannot watch
// (not a plain TCP socket): it reads frames until the socket ends.
func (c *conn) readLoop(root *actor.RootContext) {
	defer c.env.wg.Done()
	for {
		if done, err := c.read(root); done {
			root.Send(c.pid, &peerGone{err: err})
			return
		}
	}
}

// onReadable runs, on a short-lived goroutine, when the poller saw the
// socket readable: it reads one frame and re-arms the poller, so an idle
// connection holds no goroutine (DESIGN.md invariant 6).
func (c *conn) onReadable(root *actor.RootContext, r *socket.Registration) {
	// A frame that started arriving must complete within the write timeout.
	_ = c.sock.SetReadDeadline(time.Now().Add(c.env.writeTimeout))
	done, err := c.read(root)
	if done {
		r.Remove()
		root.Send(c.pid, &peerGone{err: err})
		return
	}
	r.Rearm()
}

// read reads what the client sent: a frame of a WebSocket, anything of an
// SSE stream.
func (c *conn) read(root *actor.RootContext) (done bool, err error) {
	if c.stream.SSE != nil {
		return c.readSSE()
	}
	return c.readFrame(root)
}

// readFrame reads and handles one client frame: pings are answered, pongs
// and every frame refresh the heartbeat, a close is answered, a data frame
// or an oversized frame closes the stream. done reports that reading is
// over (the socket failed or the client broke the protocol).
func (c *conn) readFrame(root *actor.RootContext) (done bool, err error) {
	var payload [125]byte
	h, err := ws.ReadHeader(c.sock)
	if err != nil {
		return true, err
	}
	c.lastRead.Store(time.Now().UnixNano())
	switch {
	case h.Length > MaxClientFrame:
		root.Send(c.pid, &closeConn{code: CloseTooBig, reason: "frame too large"})
		return true, discard(c.sock)
	case !h.OpCode.IsControl():
		root.Send(c.pid, &closeConn{code: ClosePolicy, reason: "clients send only control frames"})
		return true, discard(c.sock)
	case h.Length > int64(len(payload)) || !h.Fin:
		root.Send(c.pid, &closeConn{code: ClosePolicy, reason: "bad control frame"})
		return true, discard(c.sock)
	}
	p := payload[:h.Length]
	if _, err := io.ReadFull(c.sock, p); err != nil {
		return true, err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	switch h.OpCode {
	case ws.OpPing:
		c.queueControl(root, ws.MustCompileFrame(ws.NewPongFrame(append([]byte(nil), p...))))
	case ws.OpClose:
		code := ws.StatusNormalClosure
		if len(p) >= 2 {
			code = ws.StatusCode(uint16(p[0])<<8 | uint16(p[1]))
		}
		if code == ws.StatusNoStatusRcvd || !code.IsApplicationSpec() && !code.IsProtocolDefined() {
			code = ws.StatusNormalClosure
		}
		root.Send(c.pid, &closeConn{code: uint16(code), reason: "", fromPeer: true})
	}
	return false, nil
}

// queueControl puts a control frame (ping, pong) in the outbox from outside
// the actor and schedules the flush when the outbox was idle. A full or
// closed outbox drops it: the connection is being cut anyway.
func (c *conn) queueControl(root *actor.RootContext, f []byte) {
	if kick, ok := c.out.Push(f); ok && kick {
		if pid := c.ref.Load(); pid != nil {
			root.Send(pid, flushMsg)
		}
	}
}

// awaitClose reads what the client sends after our close frame until its
// close frame (the closing handshake is complete: a browser reports the
// close only once the server then closes TCP), the end of the stream or
// the read deadline.
func awaitClose(r io.Reader) {
	for range 64 {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, r, h.Length); err != nil || h.OpCode == ws.OpClose {
			return
		}
	}
}

// discard reads and drops whatever the client still sends until the close
// linger's read deadline, so closing the socket does not reset the close
// frame on its way out.
func discard(r io.Reader) error {
	_, err := io.Copy(io.Discard, io.LimitReader(r, 4<<20))
	return err
}
