package persistence

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// liveBufferDefault is the capacity of a log's live channel: the messages
// of all its followers wait there for the dispatcher. Slots are pointers,
// so it costs 512 KiB per log, once, where a SubscribeSync per org cost
// that per org. When it is full, NATS drops the message and counts it on
// the org's subscription; the idle check then catches that org up.
const liveBufferDefault = 1 << 16

// followQueueMax bounds the live messages waiting behind a follower's
// worker (a read of the log, a backoff): past it they are let go and the
// worker catches up from the log instead, as after a drop.
const followQueueMax = 1024

// liveFeed is the live side of a JetStreamLog's followers, at a cost per
// org of one core NATS subscription and no goroutine:
//
//   - each follower's subscription on orgstream.live.<org> delivers into the
//     log's one channel (nats.go's ChanSubscribe has no goroutine and no
//     buffer of its own; the interest stays per org, so a node receives the
//     events of its orgs only);
//   - one dispatcher goroutine routes each message to its follower by
//     subscription and, when the follower is idle, runs the header check
//     and fn inline (fn must not block: Log.Follow); anything that needs the
//     log goes to a worker goroutine of that follower, started on demand,
//     behind which the org's later messages queue in order (feedTurn);
//   - one ticker goroutine does the idle check of every follower each
//     followIdle: lost messages (reconnect, drops, a new stream leader) or a
//     refused one (recheck) start a catch-up from the log.
//
// The dispatcher, the ticker and the workers end before Close returns.
type liveFeed struct {
	l        *JetStreamLog
	ch       chan *nats.Msg
	queueMax int // followQueueMax, but in tests
	quit     chan struct{}
	wg       sync.WaitGroup // the dispatcher, the ticker, the workers

	mu     sync.RWMutex
	closed bool
	subs   map[*nats.Subscription]*jsFollower

	checked []*jsFollower // the ticker's, reused
}

func newLiveFeed(l *JetStreamLog, buffer, queueMax int) *liveFeed {
	return &liveFeed{
		l:        l,
		ch:       make(chan *nats.Msg, buffer),
		queueMax: queueMax,
		quit:     make(chan struct{}),
		subs:     make(map[*nats.Subscription]*jsFollower),
	}
}

func (d *liveFeed) start() {
	d.wg.Add(2)
	go d.dispatch()
	go d.tick()
}

// add subscribes f to its org's live subject and registers it, both under
// the lock, so the dispatcher finds f for the first message.
func (d *liveFeed) add(f *jsFollower) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	sub, err := d.l.nc.ChanSubscribe(LivePrefix+f.org, d.ch)
	if err != nil {
		return transportErr("follow", err)
	}
	f.sub = sub
	d.subs[sub] = f
	return nil
}

func (d *liveFeed) remove(f *jsFollower) {
	d.mu.Lock()
	delete(d.subs, f.sub)
	d.mu.Unlock()
}

// close refuses new followers and returns the current ones, to be stopped
// before wait.
func (d *liveFeed) close() []*jsFollower {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	fs := make([]*jsFollower, 0, len(d.subs))
	for _, f := range d.subs {
		fs = append(fs, f)
	}
	return fs
}

// wait ends the dispatcher and the ticker and waits for them and for the
// workers (every follower must be stopped).
func (d *liveFeed) wait() {
	close(d.quit)
	d.wg.Wait()
}

// goWork starts f's worker; the caller holds f's turn and hands it over.
func (d *liveFeed) goWork(f *jsFollower) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f.work()
	}()
}

func (d *liveFeed) dispatch() {
	defer d.wg.Done()
	for {
		select {
		case <-d.quit:
			return
		case m := <-d.ch:
			d.mu.RLock()
			f := d.subs[m.Sub]
			d.mu.RUnlock()
			if f != nil { // nil: stopped meanwhile
				f.onDispatch(m)
			}
		}
	}
}

func (d *liveFeed) tick() {
	defer d.wg.Done()
	t := time.NewTicker(followIdle)
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return
		case <-t.C:
			d.check()
		}
	}
}

// check runs the idle check of every follower.
func (d *liveFeed) check() {
	d.mu.RLock()
	fs := d.checked[:0]
	for _, f := range d.subs {
		fs = append(fs, f)
	}
	d.mu.RUnlock()
	reconnects, leaders := d.l.nc.Stats().Reconnects, d.l.leaderChanges.Load()
	for _, f := range fs {
		f.idleCheck(reconnects, leaders)
	}
	clear(fs)
	d.checked = fs[:0]
}
