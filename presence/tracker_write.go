package presence

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// encodeHeartbeat is a heartbeat's value: the node's name, for operators
// reading the bucket.
func encodeHeartbeat(node string) []byte {
	b, _ := json.Marshal(struct {
		Node string `json:"node"`
	}{node})
	return b
}

// write is the one goroutine that writes: the heartbeat every Heartbeat,
// this node's dirty entries at most once per Debounce (a burst of connects
// is one write per org), and the purges of stale nodes.
func (t *Tracker) write() {
	defer t.wg.Done()
	hb := time.NewTicker(t.cfg.Heartbeat)
	defer hb.Stop()
	var due <-chan time.Time // the debounced flush, when one is scheduled
	var last time.Time       // the last flush
	for {
		select {
		case <-t.stop:
			return
		case <-hb.C:
			if err := t.beat(); err != nil {
				t.log.Debug("presence: heartbeat", zap.Error(err))
			}
			continue
		case <-t.wake:
			if due != nil {
				continue // already scheduled: this change goes with it
			}
			if wait := t.cfg.Debounce - time.Since(last); wait > 0 {
				due = time.After(wait)
				continue
			}
		case <-due:
		}
		due = nil
		last = time.Now()
		if !t.flush(context.Background()) {
			due = time.After(t.cfg.Debounce) // retry what failed
		}
	}
}

// beat publishes this node's heartbeat on core NATS: no JetStream stream,
// so no leader election, stands between a node and the others' knowing
// that it lives. (The connection buffers it while reconnecting.)
func (t *Tracker) beat() error {
	return t.cfg.Conn.Publish(beatPrefix+t.inst, t.hbValue)
}

// remove removes key, leaving a marker that expires where the server
// supports it.
func (t *Tracker) remove(ctx context.Context, key string) error {
	if t.markers {
		return t.kv.Purge(ctx, key, jetstream.PurgeTTL(markerTTL))
	}
	return t.kv.Purge(ctx, key)
}

// leaveBucket tells the others that this node leaves (they drop it at
// once) and removes every entry it may have written (Stop, after the
// writer ended).
func (t *Tracker) leaveBucket(ctx context.Context) {
	if err := t.cfg.Conn.Publish(leavePrefix+t.inst, nil); err == nil {
		_ = t.cfg.Conn.FlushTimeout(t.cfg.OpTimeout)
	}
	t.lmu.Lock()
	for org := range t.dirty {
		t.written[org] = true // it may have been written before it changed
	}
	t.lmu.Unlock()
	orgs := make([]string, 0, len(t.written))
	for org := range t.written {
		orgs = append(orgs, org)
	}
	if err := t.purgeInstance(ctx, t.inst, orgs); err != nil {
		t.log.Warn("presence: removing this node's entries; the others drop them once its heartbeat is stale", zap.Error(err))
	}
}

// flush writes the dirty entries (an org without users is removed, if an
// entry of it was written) and purges the stale nodes' keys. What fails is
// marked again for the next flush; false then.
func (t *Tracker) flush(ctx context.Context) bool {
	written := t.written
	type entry struct {
		org string
		val []byte // nil: remove
	}
	t.lmu.Lock()
	entries := make([]entry, 0, len(t.dirty))
	for org := range t.dirty {
		var val []byte
		if users := t.local[org]; len(users) > 0 {
			val = encodeUsers(users)
		}
		entries = append(entries, entry{org, val})
	}
	clear(t.dirty)
	purge := t.purge
	t.purge = map[string][]string{}
	t.lmu.Unlock()

	ok := true
	for _, e := range entries {
		if e.val == nil && !written[e.org] {
			continue // never written: nothing to remove
		}
		c, cancel := context.WithTimeout(ctx, t.cfg.OpTimeout)
		var err error
		if e.val == nil {
			err = t.remove(c, orgKey(e.org, t.inst))
		} else {
			_, err = t.kv.Put(c, orgKey(e.org, t.inst), e.val)
		}
		cancel()
		if err != nil {
			ok = false
			t.lmu.Lock()
			t.dirty[e.org] = struct{}{}
			t.lmu.Unlock()
			t.report(err)
			continue
		}
		if e.val == nil {
			delete(written, e.org)
		} else {
			written[e.org] = true
		}
	}
	for inst, orgs := range purge {
		if err := t.purgeInstance(ctx, inst, orgs); err != nil {
			ok = false
			t.lmu.Lock()
			t.purge[inst] = orgs
			t.lmu.Unlock()
			t.report(err)
		}
	}
	if ok {
		t.report(nil)
	}
	return ok
}

// purgeInstance removes a node's entries of orgs. Every survivor does it
// for a stale node; removals are idempotent.
func (t *Tracker) purgeInstance(ctx context.Context, inst string, orgs []string) error {
	for _, key := range orgKeys(orgs, inst) {
		c, cancel := context.WithTimeout(ctx, t.cfg.OpTimeout)
		err := t.remove(c, key)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func orgKeys(orgs []string, inst string) []string {
	keys := make([]string, len(orgs))
	for i, org := range orgs {
		keys[i] = orgKey(org, inst)
	}
	return keys
}

// report logs the first failure of an outage at Warn and its end at Info.
func (t *Tracker) report(err error) {
	if err != nil {
		if !t.failing.Swap(true) {
			t.log.Warn("presence: writing to the bucket failed; retrying", zap.Error(err))
		}
		return
	}
	if t.failing.Swap(false) {
		t.log.Info("presence: writing to the bucket works again")
	}
}
