package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// The counter outlives retention (DESIGN.md invariant 3) through a head
// marker per org: the message on orgstream.heads.<org>, holding the org's
// last seq in its Orgstream-Seq header, in its own stream ORGSTREAM_HEADS
// (no MaxAge, one message per subject).
//
// Why a stream of their own: in the events' stream, with Nats-TTL "never"
// against MaxAge, the markers survived on a running server, but nats-server
// (2.15.2, filestore expireMsgsOnRecover) expires messages by age alone when
// it recovers a stream with MaxAge, ignoring per-message TTLs: a restart wiped
// every marker older than the retention, and an org whose events had all aged
// out restarted at 1 under the same epoch. Keeping MaxAge for the events was
// preferred over the other way out, no MaxAge and a per-message TTL on every
// event: TTLs are whole seconds (at least 1s), and a TTL is fixed when the
// event is stored, so after a retention change old and new events expire at
// different ages; a lowered retention would make newer events leave before
// older ones, a hole in the middle of the org's log that Read and Follow
// must never see.
//
//   - Markers only go up. Each is written with compare-and-set on its own
//     subject (Nats-Expected-Last-Subject-Sequence = the stream sequence of
//     the marker it replaces, 0 for the first) and only when it raises the
//     seq: when two nodes' writes cross, the loser re-reads the marker from
//     the stream leader and writes again only if its seq is still higher.
//   - Markers are lazy: Append hands its new head to the marker writer,
//     which only remembers it; every markerEvery = min(1s, Retention/4) the
//     writer sends one compare-and-set write per org whose wanted head is
//     above its stored marker, with the latest head. So an org costs at most
//     one marker write per markerEvery however fast it appends (it used to
//     be one per Append, a second durable write beside every event: the
//     server's stream loop stored two messages per publish). The marker only
//     matters once every event of the org has aged out, Retention after the
//     last one; lagging at most markerEvery (plus an ack) behind, it is
//     always written long before. Acks come back on a shared subscription;
//     failed writes are retried from the writer's goroutine, at once after a
//     lost compare-and-set, every repairInterval while the store fails.
//   - Head returns max(marker, last retained event) and hands the event's seq
//     to the writer when it is ahead, so a crash between an event and its
//     marker is repaired by the next Head while the event is retained (org
//     actors read Head when they start).
//   - A sweep closes the crash window for orgs nobody touches: when the log
//     opens, and then every sweepEvery = max(Retention/2, 30s), it reads the
//     last retained event of every org and every marker in bulk (Direct Get
//     with multi_last, up to sweepChunk subjects per request) and hands every
//     org whose last event is ahead of its marker to the writer
//     (log_jetstream_sweep.go). A node restarted after a kill -9 within
//     Retention repairs its own markers as it opens; a surviving node of a
//     cluster repairs a dead one's at its next sweep.
//
// Residual window: the process dies within markerEvery after an event is
// stored (before its marker is), nobody calls Head or Append for that org,
// no node opens the log or sweeps until all its events aged out (Retention,
// 5m by default; a periodic sweep comes every Retention/2 when that is
// above 30s, so only retentions under a minute on a store no node reopens
// in time). The org then continues from the previous marker, reusing the
// lost marker's seqs.
//
// Cost: at most one marker message per org per markerEvery, and on the first
// write for an org after a start, or after a lost compare-and-set, one read
// of the marker from the heads stream's leader; a sweep is one stream info
// and two bulk reads per sweepChunk orgs.

// repairInterval is how often failed marker writes are retried.
const repairInterval = time.Second

// maxMarkerEvery caps markerEvery, the period of the lazy marker writes.
const maxMarkerEvery = time.Second

// markerEveryFor is how often an org's marker may be written under
// retention: a quarter of it, so that a marker is always written well before
// the last event it covers can age out, and at most maxMarkerEvery.
func markerEveryFor(retention time.Duration) time.Duration {
	return min(maxMarkerEvery, retention/4)
}

// maxMarkerStates bounds the orgs whose marker state the writer remembers
// when idle; past it the idle ones are forgotten (their next write starts
// with a read of the marker).
const maxMarkerStates = 4096

// markerSeq is the seq in the org's head marker, 0 when there is none;
// accurate asks the heads stream's leader.
func (l *JetStreamLog) markerSeq(ctx context.Context, org string, accurate bool) (uint64, error) {
	seq, _, err := l.marker(ctx, org, accurate)
	return seq, err
}

// marker is the org's head marker: its seq and its stream sequence in the
// heads stream, zeros when there is none.
func (l *JetStreamLog) marker(ctx context.Context, org string, accurate bool) (seq, rev uint64, err error) {
	m, ok, err := l.lastMsg(ctx, headsStream, HeadsPrefix+org, accurate)
	if err != nil || !ok {
		return 0, 0, err
	}
	seq, err = strconv.ParseUint(m.Header.Get(HeaderSeq), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("persistence: head marker of %s has a bad %s", org, HeaderSeq)
	}
	rev, _ = strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	return seq, rev, nil
}

// markerState is what the writer knows of one org's marker. Guarded by
// markerWriter.mu.
type markerState struct {
	want    uint64    // the highest seq handed to write
	stored  uint64    // the stored marker's seq, when known
	rev     uint64    // its stream sequence (0: no marker), when known
	known   bool      // stored and rev come from an ack or a leader read
	sending uint64    // the seq of the write in flight, 0 when none
	sentAt  time.Time // when it was sent
}

// idle reports a state with nothing to do.
func (st *markerState) idle() bool { return st.sending == 0 && st.known && st.want <= st.stored }

// markerWriter writes head markers lazily: at most one write per org per
// markerEvery, one in flight per org, compare-and-set, retries from its
// goroutine.
type markerWriter struct {
	l      *JetStreamLog
	prefix string        // reply subjects: prefix.<org>.<seq>
	every  time.Duration // markerEvery: the period of the writes
	sub    *nats.Subscription
	wakeC  chan struct{}

	// sendSeam, when set (a test seam, export_test.go), sees each marker
	// write before it is sent; false drops it, as a crash right after the
	// event would.
	sendSeam func(*nats.Msg) bool

	mu      sync.Mutex
	states  map[string]*markerState
	dirty   map[string]struct{} // orgs whose marker must be re-read, then written
	pending map[string]struct{} // orgs with a higher head to write at the next tick

	once sync.Once
	quit chan struct{}
	done sync.WaitGroup // the repairer and the sweeper
}

// newMarkerWriter subscribes to marker acks; start runs the repairer.
func newMarkerWriter(l *JetStreamLog) (*markerWriter, error) {
	w := &markerWriter{
		l:       l,
		prefix:  l.nc.NewInbox(),
		every:   markerEveryFor(l.cfg.Retention),
		wakeC:   make(chan struct{}, 1),
		states:  make(map[string]*markerState),
		dirty:   make(map[string]struct{}),
		pending: make(map[string]struct{}),
		quit:    make(chan struct{}),
	}
	sub, err := l.nc.Subscribe(w.prefix+".*.*", w.onAck)
	if err != nil {
		return nil, transportErr("subscribe head marker acks", err)
	}
	w.sub = sub
	return w, nil
}

func (w *markerWriter) start() {
	w.done.Go(w.repair)
	w.done.Go(w.sweeper)
}

// sweeper sweeps (log_jetstream_sweep.go) when the writer starts and then
// every sweepEvery, until it stops; on a goroutine of its own so that a slow
// sweep never delays the marker writes.
func (w *markerWriter) sweeper() {
	w.l.sweep()
	t := time.NewTicker(sweepEveryFor(w.l.cfg.Retention))
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.l.sweep()
		}
	}
}

// write makes sure the org's marker reaches at least seq, without waiting:
// the write itself is sent at the writer's next tick (within markerEvery),
// with the highest seq handed to write by then.
func (w *markerWriter) write(org string, seq uint64) {
	w.mu.Lock()
	st := w.states[org]
	if st == nil {
		if len(w.states) >= maxMarkerStates {
			w.forgetIdle()
		}
		st = &markerState{}
		w.states[org] = st
	}
	if seq <= st.want {
		w.mu.Unlock()
		return
	}
	st.want = seq
	w.pending[org] = struct{}{}
	w.mu.Unlock()
}

// wanted is the highest seq handed to write for org that this writer still
// remembers, 0 when none: a head this node saw (acknowledged or read), which
// Head and Bounds never answer below while the lazy marker lags, so a
// deleted newest event cannot make this node reuse its seq.
func (w *markerWriter) wanted(org string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.states[org]; st != nil {
		return st.want
	}
	return 0
}

// next decides the org's next marker write; the caller holds mu and sends
// the returned message (nil: nothing to send now).
func (w *markerWriter) next(org string, st *markerState) *nats.Msg {
	switch {
	case st.sending != 0: // its ack continues
		return nil
	case !st.known: // read the marker first, from the repairer
		w.markDirty(org, true)
		return nil
	case st.want <= st.stored:
		return nil
	}
	st.sending, st.sentAt = st.want, time.Now()
	h := make(nats.Header, 2)
	h[HeaderSeq] = []string{strconv.FormatUint(st.want, 10)}
	h[hdrExpectSubjSeq] = []string{strconv.FormatUint(st.rev, 10)}
	reply := w.prefix + "." + org + "." + strconv.FormatUint(st.want, 10)
	return &nats.Msg{Subject: HeadsPrefix + org, Reply: reply, Header: h}
}

// send publishes m (nil: nothing); a failed publish leaves the org to the
// repairer.
func (w *markerWriter) send(org string, m *nats.Msg) {
	if m == nil || (w.sendSeam != nil && !w.sendSeam(m)) {
		return
	}
	if err := w.l.nc.PublishMsg(m); err != nil {
		w.l.lg.Warn("head marker not sent", zap.String("org", org), zap.Error(err))
		w.mu.Lock()
		if st := w.states[org]; st != nil {
			st.sending, st.known = 0, false
		}
		w.markDirty(org, false)
		w.mu.Unlock()
	}
}

// onAck runs on the subscription's goroutine for each marker ack.
func (w *markerWriter) onAck(m *nats.Msg) {
	rest := m.Subject[len(w.prefix)+1:]
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return
	}
	org := rest[:i]
	seq, _ := strconv.ParseUint(rest[i+1:], 10, 64)
	var ack pubAck
	st := status(m)
	var decodeErr error
	if st == "" {
		decodeErr = json.Unmarshal(m.Data, &ack)
	}

	w.mu.Lock()
	s := w.states[org]
	if s == nil || s.sending != seq || seq == 0 {
		// A late ack of a write the repairer gave up on: if it was stored,
		// the next compare-and-set fails and re-reads the marker.
		w.mu.Unlock()
		return
	}
	s.sending = 0
	switch {
	case st != "" || decodeErr != nil:
		w.l.lg.Warn("head marker not stored", zap.String("org", org), zap.String("status", st), zap.Error(decodeErr))
		s.known = false
		w.markDirty(org, false)
	case ack.Error != nil && (ack.Error.ErrCode == codeWrongLastSeq || ack.Error.ErrCode == codeWrongLastSeqConstant):
		// Another writer moved the marker (or is moving it): re-read it
		// from the leader now and write again if ours is still higher.
		s.known = false
		w.markDirty(org, true)
	case ack.Error != nil:
		w.l.lg.Warn("head marker refused", zap.String("org", org), zap.Error(ack.Error))
		s.known = false
		w.markDirty(org, false)
	default:
		s.stored, s.rev, s.known = seq, ack.Seq, true
		if s.want > s.stored {
			w.pending[org] = struct{}{} // the next tick writes the newer head
		}
	}
	w.mu.Unlock()
}

// markDirty leaves org to the repairer: at once (wake) or at its next tick.
// The caller holds mu.
func (w *markerWriter) markDirty(org string, wake bool) {
	w.dirty[org] = struct{}{}
	if wake {
		select {
		case w.wakeC <- struct{}{}:
		default:
		}
	}
}

// forgetIdle drops the states with nothing to do. The caller holds mu.
func (w *markerWriter) forgetIdle() {
	for org, st := range w.states {
		_, d := w.dirty[org]
		if _, p := w.pending[org]; !d && !p && st.idle() {
			delete(w.states, org)
		}
	}
}

// repair, until it stops, writes the pending markers every markerEvery and
// re-reads and rewrites the markers of dirty orgs (at once when woken, else
// every repairInterval).
func (w *markerWriter) repair() {
	t := time.NewTicker(w.every)
	defer t.Stop()
	lastRetry := time.Now()
	for {
		select {
		case <-w.quit:
			w.drain()
			return
		case now := <-t.C:
			w.flush(w.l.ctx)
			if now.Sub(lastRetry) < repairInterval {
				continue
			}
			lastRetry = now
			w.expireInFlight()
		case <-w.wakeC:
		}
		w.retry()
	}
}

// flush sends the pending writes: at once for the orgs whose marker the
// writer knows, after a read of the marker for the others.
func (w *markerWriter) flush(ctx context.Context) {
	w.mu.Lock()
	var unknown []string
	var msgs []*nats.Msg
	var orgs []string
	for org := range w.pending {
		st := w.states[org]
		switch {
		case st == nil || st.sending != 0: // its ack brings it back
		case !st.known:
			if _, d := w.dirty[org]; !d {
				unknown = append(unknown, org)
			}
		default:
			if m := w.next(org, st); m != nil {
				msgs, orgs = append(msgs, m), append(orgs, org)
			}
		}
	}
	clear(w.pending)
	w.mu.Unlock()
	for i, m := range msgs {
		w.send(orgs[i], m)
	}
	w.refreshAll(ctx, unknown)
}

// retry re-reads and rewrites the markers of the dirty orgs.
func (w *markerWriter) retry() {
	w.mu.Lock()
	orgs := make([]string, 0, len(w.dirty))
	for org := range w.dirty {
		orgs = append(orgs, org)
	}
	clear(w.dirty)
	w.mu.Unlock()
	w.refreshAll(w.l.ctx, orgs)
}

// refreshAll refreshes each org, each read bounded by the request timeout;
// a failed one stays dirty.
func (w *markerWriter) refreshAll(ctx context.Context, orgs []string) {
	for _, org := range orgs {
		rctx, cancel := context.WithTimeout(ctx, w.l.cfg.RequestTimeout)
		err := w.refresh(rctx, org)
		cancel()
		if err != nil && w.l.ctx.Err() == nil {
			w.l.lg.Debug("head marker read failed, retrying", zap.String("org", org), zap.Error(err))
		}
	}
}

// refresh reads org's marker from the heads stream's leader and writes the
// wanted one if it is still higher. A failed read leaves org dirty.
func (w *markerWriter) refresh(ctx context.Context, org string) error {
	seq, rev, err := w.l.marker(ctx, org, true)
	w.mu.Lock()
	st := w.states[org]
	switch {
	case st == nil || st.sending != 0:
		w.mu.Unlock()
		return nil
	case err != nil:
		w.markDirty(org, false)
		w.mu.Unlock()
		return err
	}
	st.stored, st.rev, st.known = seq, rev, true
	m := w.next(org, st)
	w.mu.Unlock()
	w.send(org, m)
	return nil
}

// maxDrain bounds how long Close waits for pending marker writes.
const maxDrain = 2 * time.Second

// drain, as the writer stops (Close), writes what is still pending (the lazy
// writes not sent yet included) and waits
// for the acks, for at most the request timeout or maxDrain and only while
// connected: an Append just before Close keeps its marker. Orgs whose marker
// cannot be read are left to Head.
func (w *markerWriter) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), min(w.l.cfg.RequestTimeout, maxDrain))
	defer cancel()
	failed := make(map[string]bool)
	for ctx.Err() == nil && w.l.nc.IsConnected() {
		w.flush(ctx)
		w.mu.Lock()
		var orgs []string
		for org := range w.dirty {
			if !failed[org] {
				orgs = append(orgs, org)
				delete(w.dirty, org)
			}
		}
		inFlight := false
		for _, st := range w.states {
			inFlight = inFlight || st.sending != 0
		}
		w.mu.Unlock()
		if len(orgs) == 0 && !inFlight {
			return
		}
		for _, org := range orgs {
			if w.refresh(ctx, org) != nil {
				failed[org] = true
			}
		}
		if len(orgs) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// expireInFlight gives up on writes whose ack did not come within the
// request timeout (lost on a reconnect): their orgs are re-read.
func (w *markerWriter) expireInFlight() {
	cutoff := time.Now().Add(-w.l.cfg.RequestTimeout)
	w.mu.Lock()
	defer w.mu.Unlock()
	for org, st := range w.states {
		if st.sending != 0 && st.sentAt.Before(cutoff) {
			st.sending, st.known = 0, false
			w.markDirty(org, false)
		}
	}
}

// stop ends the repairer and the ack subscription. Safe to call twice.
func (w *markerWriter) stop() {
	w.once.Do(func() {
		close(w.quit)
		w.done.Wait()
		if err := w.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			w.l.lg.Debug("unsubscribe head marker acks", zap.Error(err))
		}
		w.mu.Lock()
		n := 0
		for _, st := range w.states {
			if !st.idle() {
				n++
			}
		}
		w.mu.Unlock()
		if n > 0 {
			w.l.lg.Warn("head markers left behind their events; Head repairs them", zap.Int("orgs", n))
		}
	})
}
