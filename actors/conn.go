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

// conn is the connection actor of one WebSocket. It is the only writer of
// its socket: it drains its outbox into one writev per flush. A reader
// goroutine (owned by the conn: it ends when the socket closes) handles the
// client's control frames.
type conn struct {
	hub    *Hub
	id     string
	stream messages.Stream
	sock   net.Conn
	out    *outbox
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

	started   bool
	closing   bool
	closeCode uint16
	// closeReason goes with closeCode; closeDeferred means the close frame
	// waits for the write in flight (inflight).
	closeReason   string
	closeDeferred bool
	// closeSent: our close frame is on the wire; peerClosed: the client's
	// came in. With both, the closing handshake is complete and the socket
	// closes at once (a browser fires onclose only once the server closes
	// TCP, so waiting the linger out would delay every browser's reconnect).
	closeSent  bool
	peerClosed bool
	linger     *time.Timer // ends the linger of a polled connection
	inflight   bool
	closedBy   string
	batch      [][]byte

	// Poller registration (poller_linux.go); guarded by pollMu so a re-arm
	// never touches an fd that was closed (and maybe reused).
	pollMu sync.Mutex
	pollID uint64 // 0 when not registered
	fd     int
}

func (c *conn) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.start(ctx)
	case *flush:
		c.flush(ctx)
	case *closeConn:
		if m.fromPeer {
			c.peerClosed = true
			if !c.closing {
				c.closedBy = "client"
			}
		}
		c.close(ctx, m.code, m.reason)
		if c.peerClosed && c.closeSent {
			ctx.Stop(ctx.Self())
		}
	case *writeDone:
		c.onWriteDone(ctx, m)
	case *peerGone:
		if c.closedBy == "" {
			c.closedBy = "client"
		}
		ctx.Stop(ctx.Self())
	case *actor.Stopped:
		c.finish()
	}
}

func (c *conn) start(ctx actor.Context) {
	if c.started {
		return // restarted after a panic: the reader already runs
	}
	c.started = true
	c.pid = ctx.Self()
	c.sub.pid = c.pid
	if !c.hub.poller.add(c) {
		c.hub.wg.Add(1)
		go c.readLoop(ctx.ActorSystem().Root)
	}
	ctx.Send(c.entry.pid, &subscribe{sub: c.sub, pos: position{
		resume: c.stream.Resume, last: c.stream.LastSeq, epoch: c.stream.Epoch,
	}, stream: c.stream})
}

// fastWrite is how long a write may block the connection worker. A socket
// that takes longer (its client reads slowly) is finished on a goroutine of
// its own, so that a slow client never holds up the others' writes.
const fastWrite = 20 * time.Millisecond

// writeDone reports the end of a write finished off the worker pool.
type writeDone struct {
	n          int
	frames     [][]byte
	closeFrame bool
	err        error
}

// flush writes everything queued in one writev.
func (c *conn) flush(ctx actor.Context) {
	if c.closing || c.inflight {
		return // a write in flight flushes again when it is done
	}
	frames := c.out.take(c.batch)
	if len(frames) == 0 {
		return
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	if done, err := c.send(ctx, &writeDone{n: n, frames: frames}); done {
		c.afterWrite(ctx, n, frames, err)
	} else {
		c.batch = nil // the goroutine holds frames
	}
}

// send writes w's frames; done is false when the socket was too slow and a
// goroutine finishes the write with the full write timeout, reporting w
// back to the actor.
func (c *conn) send(ctx actor.Context, w *writeDone) (done bool, err error) {
	bufs := net.Buffers(w.frames)
	_ = c.sock.SetWriteDeadline(time.Now().Add(fastWrite))
	_, err = bufs.WriteTo(c.sock)
	if !errors.Is(err, os.ErrDeadlineExceeded) || len(bufs) == 0 {
		return true, err
	}
	c.inflight = true
	c.out.setBlocked(true) // from now on frames piling up past the limit cut
	self, root := ctx.Self(), ctx.ActorSystem().Root
	c.hub.wg.Add(1)
	go func() {
		defer c.hub.wg.Done()
		_ = c.sock.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
		_, w.err = bufs.WriteTo(c.sock)
		root.Send(self, w)
	}()
	return false, nil
}

func (c *conn) onWriteDone(ctx actor.Context, w *writeDone) {
	c.inflight = false
	c.out.setBlocked(false)
	if w.closeFrame {
		c.afterClose(ctx, w.err)
		return
	}
	if !c.afterWrite(ctx, w.n, w.frames, w.err) {
		return
	}
	if c.closeDeferred {
		c.closeDeferred = false
		c.sendClose(ctx)
		return
	}
	c.flush(ctx) // what was queued meanwhile
}

// afterWrite releases a written batch; false means the write failed and the
// connection is stopping.
func (c *conn) afterWrite(ctx actor.Context, n int, frames [][]byte, err error) bool {
	c.out.written(n)
	clear(frames)
	if cap(frames) > 64 {
		frames = nil // keep no large buffer while idle
	}
	c.batch = frames[:0]
	if err == nil {
		return true
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The client stopped reading for a whole write timeout: a slow
		// consumer whose close frame could not get through either.
		c.setCloseCode(CloseSlowConsumer)
	}
	c.closedBy = "write error"
	c.out.close()
	ctx.Stop(ctx.Self())
	return false
}

// close sends a close frame and lets the reader wait briefly for the
// client's answer before the socket closes (so the frame is not lost to a
// reset). Behind a write in flight, the close frame waits for it.
func (c *conn) close(ctx actor.Context, code uint16, reason string) {
	if c.closing {
		return
	}
	c.closing = true
	c.setCloseCode(code)
	c.closeReason = reason
	if c.closedBy == "" {
		c.closedBy = "server"
	}
	c.out.close()
	if c.inflight {
		c.closeDeferred = true
		return
	}
	c.sendClose(ctx)
}

// setCloseCode records the code the connection ends with. Every
// connection that ends with 4008 is counted here, once: the org actor's cut
// (its outbox overflowed) and a write that timed out may both find the
// same slow client.
func (c *conn) setCloseCode(code uint16) {
	if code == CloseSlowConsumer && c.closeCode != CloseSlowConsumer {
		c.hub.cfg.Metrics.SlowConsumerCuts.Add(1)
	}
	c.closeCode = code
}

func (c *conn) sendClose(ctx actor.Context) {
	f := ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(c.closeCode), c.closeReason)))
	if done, err := c.send(ctx, &writeDone{frames: [][]byte{f}, closeFrame: true}); done {
		c.afterClose(ctx, err)
	}
}

func (c *conn) afterClose(ctx actor.Context, err error) {
	if err != nil || c.peerClosed {
		ctx.Stop(ctx.Self())
		return
	}
	c.closeSent = true
	_ = c.sock.SetReadDeadline(time.Now().Add(c.hub.cfg.CloseLinger))
	if c.polled() {
		// No reader waits on the deadline: end the linger with a timer.
		self, root := ctx.Self(), ctx.ActorSystem().Root
		c.linger = time.AfterFunc(c.hub.cfg.CloseLinger, func() { root.Send(self, &peerGone{}) })
	}
}

// polled reports whether the poller watches c (no reader goroutine).
func (c *conn) polled() bool {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	return c.pollID != 0
}

func (c *conn) finish() {
	if c.linger != nil {
		c.linger.Stop()
	}
	c.out.close()
	c.hub.poller.remove(c) // before the close: the fd may be reused after it
	_ = c.sock.Close()
	c.hub.connClosed(c)
	c.hub.log.Info("stream closed",
		zap.String("conn_id", c.id), zap.String("org", c.stream.Org), zap.String("user", c.stream.User),
		zap.String("remote", c.stream.RemoteAddr), zap.Uint16("code", c.closeCode),
		zap.String("by", c.closedBy), zap.Duration("duration", time.Since(c.opened)))
}

// readLoop is the reader goroutine of a connection the poller cannot watch
// (not a plain TCP socket): it reads frames until the socket ends.
func (c *conn) readLoop(root *actor.RootContext) {
	defer c.hub.wg.Done()
	for {
		if done, err := c.readFrame(root); done {
			root.Send(c.pid, &peerGone{err: err})
			return
		}
	}
}

// onReadable runs, on a short-lived goroutine, when the poller saw the
// socket readable: it reads one frame and re-arms the poller, so an idle
// connection holds no goroutine (DESIGN.md invariant 6).
func (c *conn) onReadable(root *actor.RootContext) {
	defer c.hub.wg.Done()
	// A frame that started arriving must complete within the write timeout.
	_ = c.sock.SetReadDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
	done, err := c.readFrame(root)
	if done {
		c.hub.poller.remove(c)
		root.Send(c.pid, &peerGone{err: err})
		return
	}
	c.hub.poller.rearm(c)
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
	if kick, ok := c.out.push(f); ok && kick {
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
