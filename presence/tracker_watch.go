package presence

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// drainTimeout bounds how long a stopping watcher waits for the watch's
// updates channel to close (its callback may be blocked on a send).
const drainTimeout = 2 * time.Second

// watch applies the bucket's updates to the view, checks heartbeats every
// Stale/4, and tells OnChange, in order, of the changes. synced is closed
// once the bucket's entries at start were read.
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

// apply takes one update of the bucket into the view.
func (t *Tracker) apply(e jetstream.KeyValueEntry, out []Change) []Change {
	kind, org, inst, ok := parseKey(e.Key())
	if !ok {
		return out
	}
	put := e.Operation() == jetstream.KeyValuePut
	now := time.Now()
	t.vmu.Lock()
	switch kind {
	case keyHeartbeat:
		if put {
			t.seen[inst] = now
		} else {
			// A clean leave, or a survivor purged a stale node.
			out = t.view.drop(inst, out)
			delete(t.seen, inst)
		}
	case keyOrg:
		var users map[string]int
		if put {
			var err error
			if users, err = decodeUsers(e.Value()); err != nil {
				t.log.Debug("presence: ignoring a malformed entry", zap.String("key", e.Key()), zap.Error(err))
			}
			if _, known := t.seen[inst]; !known {
				// Its heartbeat has a Stale period to show up.
				t.seen[inst] = now
			}
		}
		out = t.view.set(org, inst, users, out)
	}
	t.vmu.Unlock()
	if inst == t.inst && !put {
		// Another node took this one for stale and purged its keys (a
		// stalled heartbeat): write its entries again.
		t.rewrite(kind, org)
	}
	return out
}

// rewrite marks this node's entry of org (all of them, for its heartbeat)
// for the writer, when it has users.
func (t *Tracker) rewrite(kind keyKind, org string) {
	t.lmu.Lock()
	n := 0
	for o := range t.local {
		if kind == keyHeartbeat || o == org {
			t.dirty[o] = struct{}{}
			n++
		}
	}
	t.lmu.Unlock()
	if n > 0 {
		t.signal()
	}
}

// checkStale drops the nodes whose heartbeat was not seen for Stale and
// queues the purge of their keys. A node that does not see its own
// heartbeat (its watch or the bucket stalled) judges nobody.
func (t *Tracker) checkStale(now time.Time, out []Change) []Change {
	t.vmu.Lock()
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
	}
	t.vmu.Unlock()
	if len(gone) == 0 {
		return out
	}
	t.log.Info("presence: dropped nodes whose heartbeat went stale", zap.Int("nodes", len(gone)))
	t.lmu.Lock()
	for inst, orgs := range gone {
		t.purge[inst] = orgs
	}
	t.lmu.Unlock()
	t.signal()
	return out
}
