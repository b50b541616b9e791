package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// streamConn is one simulated client of the stream: its identity, its
// position in its org (kept across reconnects, so it resumes where it
// stopped), and its current socket. The fields under "owned" belong to the
// goroutine running its sessions; the atomics may be read by anyone.
type streamConn struct {
	idx   int
	org   int
	node  int // index in Target.Nodes; changed only while stopped
	sub   string
	token string

	mu      sync.Mutex
	nc      net.Conn      // current socket, nil between sessions
	polled  bool          // the current session is a poller's
	unpause chan struct{} // closed to let a paused reader go on
	poll    pollState

	// owned
	track   SeqTracker
	epoch   string
	payload []byte
	resets  uint64

	last     atomic.Uint64 // track.Last, published
	events   atomic.Uint64 // events received, all sessions
	doneAt   atomic.Int64  // unix ns when last reached the org's goal
	paused   atomic.Bool
	lastCode atomic.Int64 // close code of the last session (0: none)
}

func (c *streamConn) setConn(nc net.Conn) {
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
}

// closeConn closes the current socket, if any, from any goroutine.
func (c *streamConn) closeConn() {
	c.mu.Lock()
	nc, polled := c.nc, c.polled
	c.nc, c.polled = nil, false
	c.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
	if polled {
		c.poll.close()
	}
}

// pause stops the reader before its next frame (the socket then fills up).
func (c *streamConn) pause() {
	c.mu.Lock()
	if !c.paused.Load() {
		c.unpause = make(chan struct{})
		c.paused.Store(true)
	}
	c.mu.Unlock()
}

// resume lets a paused reader go on.
func (c *streamConn) resume() {
	c.mu.Lock()
	if c.paused.Load() {
		c.paused.Store(false)
		close(c.unpause)
	}
	c.mu.Unlock()
}

func (c *streamConn) waitUnpaused(ctx context.Context) {
	c.mu.Lock()
	ch := c.unpause
	paused := c.paused.Load()
	c.mu.Unlock()
	if !paused {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// dial opens a stream for c to its node: live from the head, or resuming
// after c.track.Last in c.epoch. hs, when not nil, holds bytes read past
// the handshake that r reads first.
func (f *fleet) dial(ctx context.Context, c *streamConn, resume bool) (nc net.Conn, r *bufio.Reader, hs *bufio.Reader, err error) {
	end := f.t.ends[c.node]
	u := end.streamWS
	if resume {
		u += "?last_seq=" + strconv.FormatUint(c.track.Last, 10) + "&epoch=" + c.epoch
	}
	nd := *end.dialers[c.idx%len(end.dialers)]
	if f.cfg.rcvBuf > 0 {
		size := f.cfg.rcvBuf
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	d := ws.Dialer{
		Header:  ws.HandshakeHeaderHTTP(http.Header{"Authorization": []string{"Bearer " + c.token}}),
		NetDial: nd.DialContext,
		Timeout: f.t.cfg.DialTimeout,
	}
	nc, br, _, err := d.Dial(ctx, u)
	if err != nil {
		return nil, nil, nil, err
	}
	var src io.Reader = nc
	if br != nil && br.Buffered() > 0 {
		src, hs = io.MultiReader(br, nc), br
	}
	return nc, bufio.NewReaderSize(src, f.cfg.readBuf), hs, nil
}

// errSession is a stream that broke the contract at its start.
var errSession = errors.New("bench: stream")

// session runs one connection of c until it ends: dial, welcome (and reset
// if any), then events. welcomed tells whether a welcome came; code is the
// server's close code (0 when the stream ended without a close frame).
func (f *fleet) session(ctx context.Context, c *streamConn, resume bool, release func()) (welcomed bool, code int, err error) {
	t0 := time.Now()
	nc, r, hs, err := f.dial(ctx, c, resume)
	if err != nil {
		release()
		return false, 0, err
	}
	c.setConn(nc)
	defer c.closeConn()
	if f.stopping.Load() {
		release()
		return false, 0, context.Canceled
	}
	asked := c.track.Last
	for {
		if c.paused.Load() {
			c.waitUnpaused(ctx)
		}
		h, err := readFrameHeader(r)
		if err != nil {
			if !welcomed {
				release()
			}
			return welcomed, 0, err
		}
		if !h.fin || h.rsv != 0 {
			err = fmt.Errorf("%w: fragmented or compressed frame", ErrProtocol)
		}
		if err == nil {
			c.payload, err = readPayload(r, h, c.payload)
		}
		if err != nil {
			if !welcomed {
				release()
			}
			return welcomed, 0, err
		}
		switch h.op {
		case opPing:
			_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewPongFrame(c.payload)))
			continue
		case opPong:
			continue
		case opClose:
			code = closeCode(c.payload)
			c.lastCode.Store(int64(code))
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), ""))))
			if !welcomed {
				release()
			}
			return welcomed, code, nil
		case opText:
		default:
			if !welcomed {
				release()
			}
			return welcomed, 0, fmt.Errorf("%w: opcode %#x", ErrProtocol, h.op)
		}
		fr, err := ParseFrame(c.payload)
		if err != nil {
			if !welcomed {
				release()
			}
			return welcomed, 0, err
		}
		switch fr.Type {
		case FrameEvent:
			if !welcomed {
				release()
				return false, 0, fmt.Errorf("%w: event before welcome", errSession)
			}
			f.onEvent(c, fr)
		case FrameWelcome:
			if welcomed {
				return true, 0, fmt.Errorf("%w: second welcome", errSession)
			}
			welcomed = true
			c.epoch = fr.Epoch
			switch {
			case resume && fr.Resumed:
				c.track.Rebase(asked)
			default:
				c.track.Rebase(fr.Head)
			}
			c.last.Store(c.track.Last)
			f.connect.RecordDuration(time.Since(t0))
			f.onWelcome(c)
			release()
			if done, ok := f.handOff(c, nc, r, hs); ok {
				end := <-done
				c.mu.Lock()
				c.polled = false
				c.mu.Unlock()
				if end.code != 0 {
					c.lastCode.Store(int64(end.code))
				}
				return true, end.code, end.err
			}
		case FrameReset:
			c.resets++
			f.resets.Add(1)
			c.track.Rebase(fr.Head)
			c.last.Store(c.track.Last)
		}
	}
}

func (f *fleet) onEvent(c *streamConn, fr Frame) {
	switch c.track.Observe(fr.Seq) {
	case SeqGap:
		f.gaps.Add(1)
	case SeqDup:
		f.dups.Add(1)
	}
	last := c.track.Last
	c.last.Store(last)
	c.events.Add(1)
	var now int64
	if h := f.hist.Load(); h != nil && fr.Sent != 0 {
		now = time.Now().UnixNano()
		h.Shard(c.idx).Record(now - fr.Sent)
	}
	if g := f.goals[c.org].Load(); g != 0 && last >= g && c.doneAt.Load() == 0 {
		if now == 0 {
			now = time.Now().UnixNano()
		}
		c.doneAt.Store(now)
	}
}

func (f *fleet) onWelcome(c *streamConn) {
	f.welcomes.Add(1)
	f.connected.Add(1)
	f.lastWelcome.Store(time.Now().UnixNano())
	if g := f.goals[c.org].Load(); g != 0 && c.track.Last >= g && c.doneAt.Load() == 0 {
		c.doneAt.Store(time.Now().UnixNano())
	}
}

// handOff gives c's welcomed stream to a poller when the fleet has them and
// nothing is left unread but what r buffers (see poller_linux.go).
func (f *fleet) handOff(c *streamConn, nc net.Conn, r *bufio.Reader, hs *bufio.Reader) (<-chan pollEnd, bool) {
	if len(f.pollers) == 0 || (hs != nil && hs.Buffered() > 0) || c.paused.Load() {
		return nil, false
	}
	leftover, _ := r.Peek(r.Buffered())
	return f.pollers[c.idx%len(f.pollers)].handOff(c.idx, &c.poll, nc, leftover, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.nc != nc { // closed meanwhile: the fleet is stopping
			return false
		}
		c.nc, c.polled = nil, true
		return true
	})
}

// pollSet is how the fleet's pollers reach its streams.
func (f *fleet) pollSet() pollSet {
	return pollSet{state: func(i int) *pollState { return &f.conns[i].poll }, text: f.pollText}
}

// pollText handles a text frame of a polled stream as session does.
func (f *fleet) pollText(_ *poller, i int, payload []byte) error {
	c := f.conns[i]
	fr, err := ParseFrame(payload)
	if err != nil {
		return err
	}
	switch fr.Type {
	case FrameEvent:
		f.onEvent(c, fr)
	case FrameWelcome:
		return fmt.Errorf("%w: second welcome", errSession)
	case FrameReset:
		c.resets++
		f.resets.Add(1)
		c.track.Rebase(fr.Head)
		c.last.Store(c.track.Last)
	}
	return nil
}
