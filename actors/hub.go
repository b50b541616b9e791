package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gobwas/ws"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/persistence"
	"github.com/orgstream/orgstream/transport/socket"
)

// connWorkers is how many goroutines run connection actors: enough that a
// few writes blocked on slow sockets leave the others going.
const connWorkers = 32

// ErrDraining means the hub is shutting down and takes no new work.
var ErrDraining = errors.New("actors: draining")

// Hub is the root of a node's actors: it spawns org actors under their
// supervisor on demand, keeps the connections and their limits, runs the
// heartbeat, and is the transport's Publisher and Streams. Its methods are
// safe for concurrent use.
type Hub struct {
	cfg  Config
	log  *zap.Logger
	sys  *actor.ActorSystem
	orgs *actor.PID // the supervisor of the org actors
	// poller watches idle sockets (nil where epoll is unavailable).
	poller *socket.Poller
	// connEnv is what every connection sees of the hub.
	connEnv *connEnv
	// connDispatcher runs the connection actors' mailboxes.
	connDispatcher *poolDispatcher
	// orgDispatcher runs the org actors' and writers' mailboxes.
	orgDispatcher *reuseDispatcher
	// fanout splits the delivery of one event to a large org across cores.
	fanout *fanout

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // readers, replays, heartbeat

	mu       sync.Mutex
	entries  map[string]*orgEntry
	conns    map[string]*conn
	draining bool
	closed   chan struct{} // closed when the last connection is gone while draining

	connPrefix string
	connSeq    atomic.Uint64
	shutdown   sync.Once
	pingFrame  []byte
}

// orgEntry is an org as the hub tracks it: its actor, its subscribers (which
// survive the actor's restarts), and who holds it.
type orgEntry struct {
	org string
	pid *actor.PID
	// writer is the org's writer, set by the org actor when it starts;
	// publishes go to it directly.
	writer atomic.Pointer[actor.PID]
	// acked is the newest seq this node's writer made durable for the org.
	// The writer raises it before it answers the publisher; the org actor
	// reads it before each message it handles (a welcome never announces a
	// head older than an acknowledged publish). It used to be a message to
	// the org actor per publish: a mailbox run, a goroutine woken, for one
	// number.
	acked atomic.Uint64
	subs  *subscribers
	refs  int // connections and publishes in flight
	idle  *time.Timer
	conns int
	users map[string]int
	// presence counts the streams that asked for presence frames.
	presence int
}

// NewHub starts the actor system, the org supervisor and the heartbeat.
func NewHub(cfg Config) (*Hub, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var pfx [3]byte
	if _, err := rand.Read(pfx[:]); err != nil {
		return nil, fmt.Errorf("actors: conn id prefix: %w", err)
	}
	h := &Hub{
		cfg:        cfg,
		log:        cfg.Logger,
		sys:        newActorSystem(cfg.Logger),
		entries:    map[string]*orgEntry{},
		conns:      map[string]*conn{},
		connPrefix: "c-" + hex.EncodeToString(pfx[:]),
		pingFrame:  ws.MustCompileFrame(ws.NewPingFrame(nil)),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	p, err := socket.NewPoller(&h.wg)
	if err != nil {
		h.sys.Shutdown()
		return nil, fmt.Errorf("actors: %w", err)
	}
	h.poller = p
	h.connEnv = &connEnv{
		log: h.log, writeTimeout: cfg.WriteTimeout, closeLinger: cfg.CloseLinger,
		slowCuts: &cfg.Metrics.SlowConsumerCuts, poller: p, wg: &h.wg, closed: h.connClosed,
	}
	h.connDispatcher = newPoolDispatcher(connWorkers, 1<<16, 64)
	h.orgDispatcher = newReuseDispatcher(orgThroughput)
	h.fanout = newFanout(runtime.GOMAXPROCS(0))
	h.orgs = h.sys.Root.Spawn(newSupervisorProps(h))
	h.wg.Add(1)
	go h.heartbeat()
	return h, nil
}

// acquire returns the org's entry, spawning its actor if needed, and holds
// it until release. Holding it keeps the actor alive: messages are only sent
// to held entries, so none is lost to an actor stopping for idleness.
func (h *Hub) acquire(org string) (*orgEntry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acquireLocked(org)
}

func (h *Hub) acquireLocked(org string) (*orgEntry, error) {
	if h.draining {
		return nil, ErrDraining
	}
	e := h.entries[org]
	if e == nil {
		e = &orgEntry{org: org, subs: newSubscribers(), users: map[string]int{}}
		res, err := h.sys.Root.RequestFuture(h.orgs, &spawnOrg{entry: e}, 5*time.Second).Result()
		if err != nil {
			return nil, fmt.Errorf("actors: spawn org %s: %w", org, err)
		}
		e.pid = res.(*actor.PID)
		h.entries[org] = e
		h.cfg.Metrics.OrgsActive.Store(int64(len(h.entries)))
	}
	if e.idle != nil {
		e.idle.Stop()
		e.idle = nil
	}
	e.refs++
	return e, nil
}

// release lets go of an entry; the org actor stops a grace period after the
// last holder left (its live feed is released with it).
func (h *Hub) release(e *orgEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.refs--
	if e.refs > 0 || h.draining {
		return
	}
	e.idle = time.AfterFunc(h.cfg.OrgIdleGrace, func() { h.reap(e) })
}

func (h *Hub) reap(e *orgEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.refs > 0 || h.entries[e.org] != e {
		return
	}
	delete(h.entries, e.org)
	h.cfg.Metrics.OrgsActive.Store(int64(len(h.entries)))
	h.sys.Root.Stop(e.pid)
}

// Publish appends drafts to org's log through its org actor and returns once
// they are durable. An error wrapping persistence.ErrOutcomeUnknown means the
// log may store them yet; any other error wrapping persistence.ErrUnavailable
// means nothing was stored, nor will be.
func (h *Hub) Publish(ctx context.Context, org string, drafts []messages.Draft) ([]uint64, bool, error) {
	e, err := h.acquire(org)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", persistence.ErrUnavailable, err)
	}
	defer h.release(e)
	deadline := time.Now().Add(h.cfg.PublishTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	// Once this returns without an answer, the writer must not start the
	// append any more (req.abandon): the 503 told the publisher it was not
	// stored, unless the append had started.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req := &publishRequest{ctx: ctx, drafts: drafts}
	w := e.writer.Load()
	var res interface{}
	if w != nil {
		res, err = h.sys.Root.RequestFuture(w, req, time.Until(deadline)).Result()
	}
	if w == nil || errors.Is(err, actor.ErrDeadLetter) {
		// No writer yet, or it went with a restart of its org actor (nothing
		// was appended): the org actor queues the request until its new
		// writer exists and forwards it.
		res, err = h.sys.Root.RequestFuture(e.pid, req, time.Until(deadline)).Result()
	}
	if err != nil && !req.abandon() {
		// The writer is appending it right now: the log may store it yet.
		return nil, false, fmt.Errorf("%w: publish to %s: no answer in time: %w", persistence.ErrOutcomeUnknown, org, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: publish to %s: %w", persistence.ErrUnavailable, org, err)
	}
	r, ok := res.(*publishResult)
	if !ok {
		return nil, false, fmt.Errorf("%w: publish to %s: org actor unavailable", persistence.ErrUnavailable, org)
	}
	if r.err == nil {
		h.cfg.Metrics.EventsPublished.Add(uint64(r.stored))
	}
	return r.seqs, r.allDuplicate, r.err
}

// Open serves an upgraded WebSocket: it enforces the connection limits
// (4029) and hands the socket to a new connection actor.
func (h *Hub) Open(sock net.Conn, s messages.Stream) {
	h.mu.Lock()
	e, err := h.acquireLocked(s.Org)
	if err != nil {
		h.mu.Unlock()
		h.refuse(sock, s, CloseGoingAway, "draining")
		return
	}
	if (h.cfg.MaxConnsPerOrg > 0 && e.conns >= h.cfg.MaxConnsPerOrg) ||
		(h.cfg.MaxConnsPerUser > 0 && e.users[s.User] >= h.cfg.MaxConnsPerUser) {
		h.mu.Unlock()
		h.release(e)
		h.refuse(sock, s, CloseTooManyStreams, "too many connections")
		return
	}
	// An SSE stream counts like a WebSocket from here on: the same limits,
	// the same connection counts (metrics, presence), the same heartbeat
	// and drain.
	e.conns++
	e.users[s.User]++
	if s.Presence {
		e.presence++
	}
	if h.cfg.Presence != nil {
		h.cfg.Presence.UserStreams(s.Org, s.User, e.users[s.User])
	}
	seq := h.connSeq.Add(1)
	id := h.connPrefix + "-" + strconv.FormatUint(seq, 36)
	c := &conn{
		env: h.connEnv, id: id, stream: s, sock: sock, entry: e, opened: time.Now(),
		out: socket.NewOutbox(h.cfg.MaxQueueBytes, sock), slot: seq,
	}
	c.lastRead.Store(c.opened.UnixNano())
	scope := s.Scope
	scope.User = s.User // an event's "to" names the stream's own user, always
	c.sub = &subscriber{connID: id, org: s.Org, user: s.User, out: c.out, enc: s.Encoding(), scope: scope, presence: s.Presence}
	if c.sub.enc == messages.EncSSEGzip {
		c.sub.gz = new(gzipState)
	}
	h.conns[id] = c
	h.cfg.Metrics.Connections.Add(1)
	// The label it is counted under replaces the name (they differ only
	// for "unknown" and "other"), so that connClosed takes back the same.
	c.stream.Client = h.cfg.Metrics.Clients.Open(s.Client)
	h.mu.Unlock()
	kick := false
	if s.SSE != nil {
		// The response head and retry go first: before the heartbeat can
		// ping (once the actor's PID is known) and the org pushes the
		// welcome (once the actor started).
		b, g := c.sseOpening()
		kick, _ = c.sub.push(b, g, modePush)
	}

	h.log.Info("stream opened", zap.String("conn_id", id), zap.String("org", s.Org),
		zap.String("user", s.User), zap.String("remote", s.RemoteAddr),
		zap.Bool("resume", s.Resume), zap.Uint64("last_seq", s.LastSeq), zap.Stringer("encoding", c.sub.enc))
	pid := h.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return c },
		actor.WithDispatcher(h.connDispatcher)))
	c.ref.Store(pid)
	if kick {
		h.sys.Root.Send(pid, flushMsg) // the socket did not take it all at once
	}
}

// refuse closes a just-upgraded socket with code, before any actor exists;
// an SSE stream gets the HTTP refusal instead (429 for 4029, 503 for 1001).
func (h *Hub) refuse(sock net.Conn, s messages.Stream, code uint16, reason string) {
	h.cfg.Metrics.ConnectionsRefused.Add(1)
	h.log.Info("stream refused", zap.String("org", s.Org), zap.String("user", s.User),
		zap.String("remote", s.RemoteAddr), zap.Uint16("code", code), zap.String("reason", reason))
	if s.SSE != nil {
		h.refuseSSE(sock, s.SSE, code, reason)
		return
	}
	_ = sock.SetWriteDeadline(time.Now().Add(time.Second))
	_ = ws.WriteFrame(sock, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
	// Give the client a moment to read the close frame before the socket
	// goes; without waiting, a reset could discard it.
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = sock.SetReadDeadline(time.Now().Add(h.cfg.CloseLinger))
		awaitClose(sock)
		_ = sock.Close()
	}()
}

// connClosed is the connection actor's last word.
func (h *Hub) connClosed(c *conn) {
	h.mu.Lock()
	delete(h.conns, c.id)
	e := c.entry
	e.conns--
	n := e.users[c.stream.User] - 1
	if n <= 0 {
		n = 0
		delete(e.users, c.stream.User)
	} else {
		e.users[c.stream.User] = n
	}
	if c.stream.Presence {
		e.presence--
	}
	if h.cfg.Presence != nil {
		h.cfg.Presence.UserStreams(e.org, c.stream.User, n)
	}
	last := h.draining && len(h.conns) == 0 && h.closed != nil
	h.mu.Unlock()
	h.sys.Root.Send(e.pid, &unsubscribe{connID: c.id})
	h.release(e)
	h.cfg.Metrics.Connections.Add(-1)
	h.cfg.Metrics.Clients.Close(c.stream.Client)
	if last {
		close(h.closed)
	}
}
