package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// centFleet is n Centrifugo clients over the JSON protocol, one goroutine
// each, client i on channel i mod the channel count (a server-side
// subscription from its token). Centrifugo without history has no seq and
// no resume: a client counts what it receives, and a client whose
// connection ends stays down (its missing publications are losses).
type centFleet struct {
	c        *Centrifugo
	channels []string
	wsURL    string
	dialers  []*net.Dialer
	timeout  time.Duration
	conns    []*centConn
	pollers  []*poller // nil: every client read by its goroutine
	hist     atomic.Pointer[ShardedHistogram]
	connect  Histogram

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopping  atomic.Bool
	welcomes  atomic.Int64
	connected atomic.Int64
	failed    atomic.Int64
	dropped   atomic.Int64

	mu   sync.Mutex
	errs map[string]int
}

// centConn is one Centrifugo client.
type centConn struct {
	idx     int
	channel int
	mu      sync.Mutex
	nc      net.Conn
	polled  bool
	poll    pollState
	payload []byte
	events  atomic.Uint64
	down    atomic.Bool // its connection ended (or never opened)
}

func newCentFleet(c *Centrifugo, channels []string, n, sourceAddrs int, timeout time.Duration) *centFleet {
	f := &centFleet{c: c, channels: channels, wsURL: "ws" + c.URL[len("http"):] + "/connection/websocket",
		dialers: makeDialers("127.0.0.1", sourceAddrs, timeout), timeout: timeout, errs: map[string]int{}}
	f.conns = make([]*centConn, n)
	for i := range f.conns {
		f.conns[i] = &centConn{idx: i, channel: i % len(channels)}
	}
	return f
}

// start launches every client, at most conc connecting at once; with poll
// the connected clients are read by pollers (as the orgstream fleet's).
func (f *centFleet) start(ctx context.Context, conc int, poll bool) {
	ctx, f.cancel = context.WithCancel(ctx)
	if poll && pollSupported {
		ps, err := startPollers(pollSet{state: func(i int) *pollState { return &f.conns[i].poll }, text: f.pollText})
		f.noteErr(err)
		f.pollers = ps
	}
	sem := make(chan struct{}, max(conc, 1))
	for _, c := range f.conns {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.run(ctx, c, sem)
		}()
	}
}

// stop closes every connection and waits for the goroutines.
func (f *centFleet) stop() {
	if f.cancel == nil {
		return
	}
	f.stopping.Store(true)
	f.cancel()
	for _, c := range f.conns {
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
	f.wg.Wait()
	stopPollers(f.pollers)
	f.pollers = nil
	f.cancel = nil
}

func (f *centFleet) run(ctx context.Context, c *centConn, sem chan struct{}) {
	c.down.Store(true)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-sem
		}
	}
	defer release()
	err := f.session(ctx, c, release)
	c.down.Store(true)
	if f.stopping.Load() || ctx.Err() != nil {
		return
	}
	f.noteErr(err)
}

// session connects c, waits for the connect reply, then reads until the
// connection ends.
func (f *centFleet) session(ctx context.Context, c *centConn, release func()) error {
	t0 := time.Now()
	tok, err := f.c.Token("u"+strconv.Itoa(c.idx), f.channels[c.channel])
	if err != nil {
		f.failed.Add(1)
		return err
	}
	d := ws.Dialer{NetDial: f.dialers[c.idx%len(f.dialers)].DialContext, Timeout: f.timeout}
	nc, hs, _, err := d.Dial(ctx, f.wsURL)
	if err != nil {
		f.failed.Add(1)
		return err
	}
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
	if f.stopping.Load() {
		_ = nc.Close()
		return nil
	}
	var src io.Reader = nc
	if hs != nil && hs.Buffered() > 0 {
		src = io.MultiReader(hs, nc)
	}
	r := bufio.NewReaderSize(src, defaultReadBuf)
	_ = nc.SetWriteDeadline(time.Now().Add(f.timeout))
	if err := writeText(nc, []byte(`{"id":1,"connect":{"token":"`+tok+`"}}`)); err != nil {
		f.failed.Add(1)
		return err
	}
	welcomed := false
	onMsg := func(m CentMsg) error {
		if m.Kind == CentReply && m.ID == 1 && !welcomed {
			if m.Code != 0 {
				return fmt.Errorf("%w: connect refused: %d %s", ErrCentrifugo, m.Code, m.Reason)
			}
			welcomed = true
			c.down.Store(false)
			f.connect.RecordDuration(time.Since(t0))
			f.welcomes.Add(1)
			f.connected.Add(1)
			release()
			return nil
		}
		if m.Kind == CentPub && !welcomed {
			return fmt.Errorf("%w: publication before the connect reply", ErrCentrifugoFrame)
		}
		pong, err := f.onMsg(c, m)
		if pong {
			_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			return writeText(nc, []byte("{}"))
		}
		return err
	}
	defer func() {
		if welcomed {
			f.connected.Add(-1)
			if !f.stopping.Load() {
				f.dropped.Add(1)
			}
		} else {
			f.failed.Add(1)
		}
	}()
	for {
		h, err := readFrameHeader(r)
		if err == nil && (!h.fin || h.rsv != 0) {
			err = fmt.Errorf("%w: fragmented or compressed frame", ErrProtocol)
		}
		if err == nil {
			c.payload, err = readPayload(r, h, c.payload)
		}
		if err != nil {
			return err
		}
		switch h.op {
		case opText:
			if err := EachCentMsg(c.payload, onMsg); err != nil {
				return err
			}
			if welcomed && len(f.pollers) > 0 && (hs == nil || hs.Buffered() == 0) {
				leftover, _ := r.Peek(r.Buffered())
				done, ok := f.pollers[c.idx%len(f.pollers)].handOff(c.idx, &c.poll, nc, leftover, func() bool {
					c.mu.Lock()
					defer c.mu.Unlock()
					if c.nc != nc {
						return false
					}
					c.nc, c.polled = nil, true
					return true
				})
				if ok {
					end := <-done
					c.mu.Lock()
					c.polled = false
					c.mu.Unlock()
					if end.err == nil && end.code != 0 {
						end.err = fmt.Errorf("%w: closed by the server: %d", ErrCentrifugo, end.code)
					}
					return end.err
				}
			}
		case opPing:
			_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewPongFrame(c.payload)))
		case opClose:
			return fmt.Errorf("%w: closed by the server: %d", ErrCentrifugo, closeCode(c.payload))
		case opPong:
		default:
			return fmt.Errorf("%w: opcode %#x", ErrProtocol, h.op)
		}
	}
}

// onMsg handles a message of a connected client: a publication is
// counted (and its latency recorded), a ping asks for a pong, a disconnect
// ends the session.
func (f *centFleet) onMsg(c *centConn, m CentMsg) (pong bool, err error) {
	switch m.Kind {
	case CentPub:
		c.events.Add(1)
		if h := f.hist.Load(); h != nil && m.Sent != 0 {
			h.Shard(c.idx).Record(time.Now().UnixNano() - m.Sent)
		}
	case CentPing:
		return true, nil
	case CentDisconnect:
		return false, fmt.Errorf("%w: disconnect push %d %s", ErrCentrifugo, m.Code, m.Reason)
	}
	return false, nil
}

// pollText handles a text frame of a polled client: its messages, one a
// line, without allocating.
func (f *centFleet) pollText(p *poller, i int, payload []byte) error {
	c := f.conns[i]
	for len(payload) > 0 {
		var line []byte
		if line, payload = nextLine(payload); len(line) == 0 {
			continue
		}
		m, err := ParseCentMsg(line)
		if err != nil {
			return err
		}
		pong, err := f.onMsg(c, m)
		if err != nil {
			return err
		}
		if pong {
			p.writeText(i, []byte("{}"))
		}
	}
	return nil
}

// writeText writes one masked text frame.
func writeText(nc net.Conn, p []byte) error {
	return ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewTextFrame(p)))
}

// events sums what every client received.
func (f *centFleet) events() uint64 {
	var n uint64
	for _, c := range f.conns {
		n += c.events.Load()
	}
	return n
}

// behind counts the clients still up that have fewer than want[channel]
// publications; a client that is down will never catch up and is not
// waited for.
func (f *centFleet) behind(want []int64) int {
	n := 0
	for _, c := range f.conns {
		if !c.down.Load() && int64(c.events.Load()) < want[c.channel] {
			n++
		}
	}
	return n
}

// lost is the publications that some client should have received and did
// not (down clients included).
func (f *centFleet) lost(want []int64) int64 {
	var n int64
	for _, c := range f.conns {
		if d := want[c.channel] - int64(c.events.Load()); d > 0 {
			n += d
		}
	}
	return n
}

func (f *centFleet) noteErr(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	s := addrPair.ReplaceAllString(err.Error(), "ADDR")
	f.mu.Lock()
	if _, ok := f.errs[s]; ok || len(f.errs) < maxDistinctErrs {
		f.errs[s]++
	}
	f.mu.Unlock()
}

// errorSummary lists the errors seen with their counts.
func (f *centFleet) errorSummary() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.errs))
	for s, n := range f.errs {
		out = append(out, fmt.Sprintf("%d× %s", n, s))
	}
	return out
}
