package persistence

import (
	"context"

	"github.com/orgstream/orgstream/messages"
)

// Follow implements Log. Each follower reads the log from its last seq
// whenever an Append of its org wakes it, so delivery is in order, exactly
// once, and skips (jumps) only what retention dropped first.
func (l *MemoryLog) Follow(org string, after uint64, fn func(messages.Event)) (Follower, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, err := l.org(org)
	if err != nil {
		return nil, err
	}
	f := &memFollower{
		feedRunner: newFeedRunner(),
		l:          l,
		org:        org,
		fn:         fn,
		wakeCh:     make(chan struct{}, 1),
		quit:       make(chan struct{}),
		last:       after,
	}
	o.followers[f] = struct{}{}
	go f.run(o)
	return f, nil
}

type memFollower struct {
	feedRunner
	l      *MemoryLog
	org    string
	fn     func(messages.Event)
	wakeCh chan struct{}
	quit   chan struct{}
	last   uint64 // owned by the feed goroutine
}

// Stop implements Follower.
func (f *memFollower) Stop() { f.stop(func() { close(f.quit) }) }

// wake tells the feed there is something new; l.mu is held.
func (f *memFollower) wake() {
	select {
	case f.wakeCh <- struct{}{}:
	default:
	}
}

func (f *memFollower) run(o *memOrg) {
	defer close(f.done)
	defer func() {
		f.l.mu.Lock()
		delete(o.followers, f)
		f.l.mu.Unlock()
	}()
	for {
		evs, err := f.l.Read(context.Background(), f.org, f.last+1, followReadMax)
		if err != nil {
			return // closed
		}
		for _, ev := range evs {
			if ev.Seq <= f.last {
				continue
			}
			if f.stopped.Load() {
				return
			}
			f.fn(ev)
			f.last = ev.Seq
		}
		if len(evs) == followReadMax || ReachedReadBytes(evs) {
			continue
		}
		select {
		case <-f.quit:
			return
		case <-f.wakeCh:
		}
	}
}
