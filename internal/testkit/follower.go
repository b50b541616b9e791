package testkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Follower is a stream client that resumes: whenever its connection ends it
// reconnects with last_seq and epoch of what it has seen, and it checks on
// the fly that it sees every seq exactly once, in order. Its fields are set
// before Run; its accessors are safe from any goroutine.
type Follower struct {
	// URL returns the stream URL; resume is false for the first connection
	// (lastSeq and epoch are then zero), unless Start says otherwise.
	URL func(lastSeq uint64, epoch string, resume bool) string
	// Opts are the dial options (may be nil).
	Opts *websocket.DialOptions
	// Start, if not zero, makes the first connection resume after Start in
	// StartEpoch.
	Start      uint64
	StartEpoch string
	// Disconnect, if set, is asked on each connection how many events to
	// read before closing it from the client side (0 = read until the
	// server closes it).
	Disconnect func() int
	// AllowReset accepts reset frames (a reset moves the expected seq to the
	// live position, so the check restarts there). Without it a reset is an
	// error.
	AllowReset bool

	mu     sync.Mutex
	seqs   []uint64
	codes  []websocket.StatusCode
	resets []Frame
	epoch  string
	dials  int
}

// Seqs returns a copy of every event seq received, in order.
func (f *Follower) Seqs() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.seqs...)
}

// Last is the last seq received (or Start).
func (f *Follower) Last() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastLocked()
}

func (f *Follower) lastLocked() uint64 {
	if len(f.seqs) == 0 {
		return f.Start
	}
	return f.seqs[len(f.seqs)-1]
}

// CloseCodes returns the close codes of the connections the server ended
// (-1 for an end without a close frame).
func (f *Follower) CloseCodes() []websocket.StatusCode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]websocket.StatusCode(nil), f.codes...)
}

// Resets returns the reset frames received.
func (f *Follower) Resets() []Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Frame(nil), f.resets...)
}

// Dials is the number of connections opened.
func (f *Follower) Dials() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

// Run follows the stream until done(last) is true after an event (nil
// error), ctx ends (ctx's error), or the stream breaks the contract (a hole,
// a duplicate, a bad welcome, an unexpected reset). Dial failures are
// retried every 50ms until ctx ends.
func (f *Follower) Run(ctx context.Context, done func(last uint64) bool) error {
	if f.StartEpoch != "" {
		f.epoch = f.StartEpoch
	}
	// done may become true without a new event (the caller learns the
	// final seq later): a watcher ends the session in that case.
	sctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
				if done(f.Last()) {
					cancel()
					return
				}
			}
		}
	}()
	defer func() { cancel(); <-watched }()
	for {
		if done(f.Last()) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("testkit: follower at %d: %w", f.Last(), err)
		}
		finished, err := f.session(sctx, done)
		if err != nil || finished {
			return err
		}
	}
}

// session runs one connection; it returns finished when done is satisfied.
func (f *Follower) session(ctx context.Context, done func(uint64) bool) (bool, error) {
	f.mu.Lock()
	last, epoch, resume := f.lastLocked(), f.epoch, f.epoch != ""
	f.dials++
	f.mu.Unlock()
	c, _, err := DialErr(ctx, f.URL(last, epoch, resume), f.Opts)
	if err != nil {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		return false, nil
	}
	defer c.Close()
	w, err := c.ReadWelcome(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		if w.Type != "" {
			return false, err // a frame, but not a welcome
		}
		f.recordClose(err)
		return false, nil
	}
	expect := last + 1
	switch {
	case resume && w.Epoch == epoch && w.Resumed:
		if w.Replay == nil || w.Replay.From != last+1 || w.Replay.To != w.Head {
			return false, fmt.Errorf("testkit: resume after %d: bad welcome %s", last, w.Raw)
		}
	case resume:
		// Not resumed: a reset must follow.
		r, err := c.ReadFrame(ctx)
		if err != nil {
			f.recordClose(err)
			return false, nil
		}
		if r.Type != "reset" {
			return false, fmt.Errorf("testkit: resume after %d not resumed (%s) and no reset but %s", last, w.Raw, r.Raw)
		}
		if !f.AllowReset {
			return false, fmt.Errorf("testkit: unexpected reset after %d: %s (welcome %s)", last, r.Raw, w.Raw)
		}
		f.mu.Lock()
		f.resets = append(f.resets, r)
		f.mu.Unlock()
		expect = r.Head + 1 // live from head on
	default:
		if w.Resumed {
			return false, fmt.Errorf("testkit: fresh stream resumed: %s", w.Raw)
		}
		expect = w.Head + 1 // live from head on
	}
	f.mu.Lock()
	f.epoch = w.Epoch
	f.mu.Unlock()

	limit := 0
	if f.Disconnect != nil {
		limit = f.Disconnect()
	}
	for n := 0; limit == 0 || n < limit; n++ {
		fr, err := c.ReadFrame(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			f.recordClose(err)
			return false, nil
		}
		if fr.Type != "event" {
			return false, fmt.Errorf("testkit: after %d: unexpected %s", f.Last(), fr.Raw)
		}
		if fr.Seq != expect {
			return false, fmt.Errorf("testkit: got seq %d, want %d (welcome %s)", fr.Seq, expect, w.Raw)
		}
		expect = fr.Seq + 1
		f.mu.Lock()
		f.seqs = append(f.seqs, fr.Seq)
		f.mu.Unlock()
		if done(fr.Seq) {
			return true, nil
		}
	}
	return false, nil
}

func (f *Follower) recordClose(err error) {
	f.mu.Lock()
	f.codes = append(f.codes, CloseCode(err))
	f.mu.Unlock()
}
