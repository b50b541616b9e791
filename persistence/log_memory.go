package persistence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/orgstream/orgstream/messages"
)

var _ Log = (*MemoryLog)(nil)

// MemoryConfig configures the in-memory log.
type MemoryConfig struct {
	// Retention is how long events stay readable. Zero means
	// DefaultRetention.
	Retention time.Duration
	// MaxEventsPerOrg bounds the retained events per org. Zero means
	// DefaultMaxEventsPerOrg.
	MaxEventsPerOrg int64
	// DedupWindow is how long a draft ID is remembered. Zero means
	// DefaultDedupWindow; it is clamped to Retention, as on JetStream.
	DedupWindow time.Duration
	// Now is the clock (event times, retention, dedup). Nil means time.Now.
	Now func() time.Time
}

func (c *MemoryConfig) validate() {
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxEventsPerOrg <= 0 {
		c.MaxEventsPerOrg = DefaultMaxEventsPerOrg
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	c.DedupWindow = min(c.DedupWindow, c.Retention)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// MemoryLog is a Log in memory with JetStream's semantics (conflicts, dedup,
// consecutive atomic batches, retention by count and age, a counter that
// outlives retention, Follow), for fast tests of its users. Expiry is lazy:
// it happens on the next call that touches the org. It never reports
// ErrUnavailable (nor ErrOutcomeUnknown) and has no size limit (no
// ErrTooLarge). An Append, duplicates included, happens under one lock: all
// or nothing, as the Log contract asks. Safe for concurrent use.
type MemoryLog struct {
	cfg   MemoryConfig
	epoch string

	mu     sync.Mutex
	closed bool
	rev    uint64 // last revision given, across orgs (JetStream: stream seq)
	orgs   map[string]*memOrg
}

type memOrg struct {
	events    []memEvent // retained, oldest first, consecutive seqs
	head      uint64
	ids       map[string]memID
	idOrder   []string // ids in insertion order, for expiry
	followers map[*memFollower]struct{}
}

type memEvent struct {
	ev  messages.Event
	rev uint64
}

type memID struct {
	seq uint64
	at  time.Time
}

// NewMemory returns an empty in-memory log with a fresh epoch.
func NewMemory(cfg MemoryConfig) *MemoryLog {
	cfg.validate()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &MemoryLog{cfg: cfg, epoch: "m-" + hex.EncodeToString(b[:]), orgs: make(map[string]*memOrg)}
}

// Epoch implements Log.
func (l *MemoryLog) Epoch() string { return l.epoch }

// Retention implements Log.
func (l *MemoryLog) Retention() time.Duration { return l.cfg.Retention }

// Close stops every follower; later calls return ErrClosed. Safe to call
// twice.
func (l *MemoryLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	var fs []*memFollower
	for _, o := range l.orgs {
		for f := range o.followers {
			fs = append(fs, f)
		}
	}
	l.mu.Unlock()
	for _, f := range fs {
		f.Stop()
	}
	return nil
}

// org returns the org's state, pruned to now; l.mu must be held.
func (l *MemoryLog) org(org string) (*memOrg, error) {
	if l.closed {
		return nil, ErrClosed
	}
	if !messages.ValidOrg(org) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidOrg, org)
	}
	o := l.orgs[org]
	if o == nil {
		o = &memOrg{ids: make(map[string]memID), followers: make(map[*memFollower]struct{})}
		l.orgs[org] = o
	}
	l.prune(o, l.cfg.Now())
	return o, nil
}

// prune drops what retention and the dedup window no longer keep.
func (l *MemoryLog) prune(o *memOrg, now time.Time) {
	oldest := now.Add(-l.cfg.Retention)
	n := 0
	for n < len(o.events) && (int64(len(o.events)-n) > l.cfg.MaxEventsPerOrg || !o.events[n].ev.Time.After(oldest)) {
		n++
	}
	if n > 0 {
		clear(o.events[:n])
		o.events = o.events[n:]
	}
	idOldest := now.Add(-l.cfg.DedupWindow)
	k := 0
	for ; k < len(o.idOrder); k++ {
		id := o.idOrder[k]
		if e, ok := o.ids[id]; ok && e.at.After(idOldest) {
			break
		}
		delete(o.ids, id)
	}
	if k > 0 {
		o.idOrder = o.idOrder[k:]
	}
}

func (o *memOrg) headOf() Head {
	h := Head{Seq: o.head}
	if n := len(o.events); n > 0 {
		h.Rev = o.events[n-1].rev
	}
	return h
}

// Head implements Log.
func (l *MemoryLog) Head(_ context.Context, org string) (Head, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, err := l.org(org)
	if err != nil {
		return Head{}, err
	}
	return o.headOf(), nil
}

// Append implements Log.
func (l *MemoryLog) Append(_ context.Context, org string, after Head, drafts []messages.Draft) (Appended, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, err := l.org(org)
	if err != nil {
		return Appended{}, err
	}
	switch {
	case len(drafts) == 0:
		return Appended{Head: after}, nil
	case len(drafts) > MaxBatch:
		return Appended{}, fmt.Errorf("%w: %d drafts, at most %d", ErrBatchTooLarge, len(drafts), MaxBatch)
	}
	if cur := o.headOf(); cur != after {
		return Appended{}, fmt.Errorf("%w: %s: head is %+v, not %+v", ErrConflict, org, cur, after)
	}
	now := l.cfg.Now().UTC()
	res := Appended{Seqs: make([]uint64, len(drafts)), Duplicate: make([]bool, len(drafts))}
	for i := range drafts {
		d := &drafts[i]
		if d.ID != "" {
			if e, ok := o.ids[d.ID]; ok {
				res.Seqs[i], res.Duplicate[i] = e.seq, true
				continue
			}
		}
		o.head++
		l.rev++
		ev := newEvent(o.head, d, now)
		o.events = append(o.events, memEvent{ev: ev, rev: l.rev})
		res.Seqs[i] = ev.Seq
		res.Events = append(res.Events, ev)
		if d.ID != "" {
			o.ids[d.ID] = memID{seq: ev.Seq, at: now}
			o.idOrder = append(o.idOrder, d.ID)
		}
	}
	l.prune(o, now) // MaxEventsPerOrg
	res.Head = after
	if len(res.Events) > 0 {
		res.Head = Head{Seq: o.head, Rev: l.rev}
		for f := range o.followers {
			f.wake()
		}
	}
	return res, nil
}

// Bounds implements Log.
func (l *MemoryLog) Bounds(_ context.Context, org string) (first, head uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, err := l.org(org)
	if err != nil {
		return 0, 0, err
	}
	if len(o.events) == 0 {
		return o.head + 1, o.head, nil
	}
	return o.events[0].ev.Seq, o.head, nil
}

// LeaderHead implements Log; a memory log has no replicas.
func (l *MemoryLog) LeaderHead(ctx context.Context, org string) (uint64, error) {
	_, head, err := l.Bounds(ctx, org)
	return head, err
}

// Read implements Log.
func (l *MemoryLog) Read(_ context.Context, org string, from uint64, max int) ([]messages.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, err := l.org(org)
	if err != nil || max <= 0 || len(o.events) == 0 {
		return nil, err
	}
	i := 0
	if first := o.events[0].ev.Seq; from > first {
		i = int(min(from-first, uint64(len(o.events))))
	}
	n := min(len(o.events)-i, max)
	out := make([]messages.Event, 0, min(n, directBatchMax))
	size := 0
	for k := 0; k < n && size < ReadMaxBytes; k++ {
		ev := o.events[i+k].ev
		out = append(out, ev)
		size += len(ev.Data)
	}
	return out, nil
}
