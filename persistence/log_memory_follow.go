package persistence

import (
	"context"

	"github.com/orgstream/orgstream/messages"
)

// Follow implements Log. Each follower reads the log from its last seq
// whenever an Append of its org wakes it, so delivery is in order, exactly
// once, and skips (jumps) only what retention dropped first. An idle
// follower holds no goroutine: the wake starts one that reads until the end
// of the log and ends (feedTurn).
func (l *MemoryLog) Follow(org string, after uint64, fn func(messages.Event)) (Follower, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, err := l.org(org)
	if err != nil {
		return nil, err
	}
	f := &memFollower{l: l, o: o, org: org, fn: fn, last: after}
	o.followers[f] = struct{}{}
	f.wake()
	return f, nil
}

type memFollower struct {
	feedTurn
	l   *MemoryLog
	o   *memOrg
	org string
	fn  func(messages.Event)

	more bool   // an Append woke the feed while its turn was held; under mu
	last uint64 // owned by the holder of the turn
}

// Stop implements Follower.
func (f *memFollower) Stop() { f.stop(f.detach) }

// detach removes the follower from its org.
func (f *memFollower) detach() {
	f.l.mu.Lock()
	delete(f.o.followers, f)
	f.l.mu.Unlock()
}

// wake tells the feed there is something new, starting its goroutine when
// none runs; l.mu is held.
func (f *memFollower) wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.takeLocked() {
		go f.run()
	} else if !f.stopped.Load() {
		f.more = true
	}
}

// run reads and delivers until the end of the log, then gives the turn
// back, unless an Append came meanwhile.
func (f *memFollower) run() {
	for {
		evs, err := f.l.Read(context.Background(), f.org, f.last+1, followReadMax)
		if err != nil {
			f.end(f.detach) // closed
			return
		}
		for _, ev := range evs {
			if ev.Seq <= f.last {
				continue
			}
			if f.stopped.Load() {
				f.end(f.detach)
				return
			}
			f.fn(ev)
			f.last = ev.Seq
		}
		if len(evs) == followReadMax || ReachedReadBytes(evs) {
			continue
		}
		f.mu.Lock()
		if !f.more || f.stopped.Load() {
			f.releaseLocked()
			f.mu.Unlock()
			return
		}
		f.more = false
		f.mu.Unlock()
	}
}
