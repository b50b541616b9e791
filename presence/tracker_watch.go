package presence

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// drainTimeout bounds how long a stopping watcher waits for the watch's
// updates channel to close (its callback may be blocked on a send).
const drainTimeout = 2 * time.Second

// beat is a heartbeat (or, leave, a clean leave) of an instance.
type beat struct {
	inst  string
	leave bool
}

// onBeat hands a heartbeat to the watcher without blocking NATS's
// dispatcher; one dropped when the watcher is behind is followed by the
// next a Heartbeat later.
func (t *Tracker) onBeat(m *nats.Msg) {
	inst, leave, ok := parseBeat(m.Subject)
	if !ok {
		return
	}
	select {
	case t.beats <- beat{inst: inst, leave: leave}:
	default:
	}
}

// watch is the one goroutine that changes the view: it applies the
// bucket's updates and the heartbeats, checks the heartbeats every Stale/4,
// and tells OnChange, in order, of the changes. synced is closed once the
// bucket's entries at start were read.
func (t *Tracker) watch(synced chan struct{}) {
	defer t.wg.Done()
	updates := t.watcher.Updates()
	tick := time.NewTicker(t.cfg.Stale / 4)
	defer tick.Stop()
	var changes []Change
	for {
		select {
		case <-t.stop:
			t.drain(updates)
			return
		case e, ok := <-updates:
			if !ok {
				return
			}
			if e == nil {
				if synced != nil {
					close(synced)
					synced = nil
				}
				continue
			}
			changes = t.apply(e, changes[:0])
		case b := <-t.beats:
			changes = t.heard(b, time.Now(), changes[:0])
		case now := <-tick.C:
			changes = t.checkStale(now, changes[:0])
		}
		for _, c := range changes {
			t.cfg.OnChange(c)
		}
		clear(changes)
	}
}

// drain reads the stopped watch's updates until its channel closes, so
// that its callback, blocked on a send, can finish.
func (t *Tracker) drain(updates <-chan jetstream.KeyValueEntry) {
	deadline := time.After(drainTimeout)
	for {
		select {
		case _, ok := <-updates:
			if !ok {
				return
			}
		case <-deadline:
			return
		}
	}
}

// heard takes a heartbeat: the instance lives (even one dropped before:
// it was only slow, and writes its entries again when it sees them
// purged), or it left and its users go.
func (t *Tracker) heard(b beat, now time.Time, out []Change) []Change {
	t.vmu.Lock()
	defer t.vmu.Unlock()
	if !b.leave {
		t.seen[b.inst] = now
		delete(t.dead, b.inst)
		return out
	}
	if b.inst == t.inst {
		return out
	}
	out = t.view.drop(b.inst, out)
	delete(t.seen, b.inst)
	t.dead[b.inst] = now
	return out
}

// apply takes one update of the bucket into the view.
func (t *Tracker) apply(e jetstream.KeyValueEntry, out []Change) []Change {
	org, inst, ok := parseKey(e.Key())
	if !ok {
		return out
	}
	put := e.Operation() == jetstream.KeyValuePut
	if put && inst != t.inst {
		t.vmu.Lock()
		_, dead := t.dead[inst]
		t.vmu.Unlock()
		if dead {
			// Written before its node died, delivered after: not shown,
			// and purged (again).
			t.queuePurge(inst, []string{org})
			return out
		}
	}
	var users map[string]int
	if put {
		var err error
		if users, err = decodeUsers(e.Value()); err != nil {
			t.log.Debug("presence: ignoring a malformed entry", zap.String("key", e.Key()), zap.Error(err))
		}
	}
	t.vmu.Lock()
	if _, known := t.seen[inst]; put && !known {
		// Its heartbeat has a Stale period to show up.
		t.seen[inst] = time.Now()
	}
	out = t.view.set(org, inst, users, out)
	t.vmu.Unlock()
	if inst == t.inst && !put {
		// Another node took this one for stale and purged its entry (its
		// heartbeats stalled): write it again.
		t.rewrite(org)
	}
	return out
}

// rewrite marks this node's entry of org for the writer, when it has users.
func (t *Tracker) rewrite(org string) {
	t.lmu.Lock()
	_, has := t.local[org]
	if has {
		t.dirty[org] = struct{}{}
	}
	t.lmu.Unlock()
	if has {
		t.signal()
	}
}

// queuePurge has the writer remove inst's entries of orgs.
func (t *Tracker) queuePurge(inst string, orgs []string) {
	t.lmu.Lock()
	t.purge[inst] = append(t.purge[inst], orgs...)
	t.lmu.Unlock()
	t.signal()
}

// checkStale drops the nodes whose heartbeat was not heard for Stale and
// queues the purge of their entries. A node that does not hear its own
// heartbeat (cut off from NATS, or its watcher behind) judges nobody.
func (t *Tracker) checkStale(now time.Time, out []Change) []Change {
	t.vmu.Lock()
	for inst, at := range t.dead {
		if now.Sub(at) > deadTTL {
			delete(t.dead, inst)
		}
	}
	self, ok := t.seen[t.inst]
	if !ok || now.Sub(self) > t.cfg.Stale {
		t.vmu.Unlock()
		return out
	}
	var gone map[string][]string
	for inst, at := range t.seen {
		if inst == t.inst || now.Sub(at) <= t.cfg.Stale {
			continue
		}
		if gone == nil {
			gone = map[string][]string{}
		}
		gone[inst] = t.view.orgsOf(inst)
		out = t.view.drop(inst, out)
		delete(t.seen, inst)
		t.dead[inst] = now
	}
	t.vmu.Unlock()
	if len(gone) == 0 {
		return out
	}
	t.log.Info("presence: dropped nodes whose heartbeat went stale", zap.Int("nodes", len(gone)))
	for inst, orgs := range gone {
		t.queuePurge(inst, orgs)
	}
	return out
}
