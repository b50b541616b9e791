package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/messages"
)

// replayChunk is how many events a replay reads from the log at a time.
const replayChunk = 256

// bounded answers an OpResolve: the log's oldest retained seq and its
// newest, or failed when the log could not tell.
type bounded struct {
	connID         string
	first, logHead uint64
	failed         bool
}

// goResolve reads the log's bounds for a subscriber whose start the window
// cannot decide (a reset must name the oldest retained seq; a position past
// this node's head may be another node's newer write) and reports them to
// the org actor, whose core decides the welcome. It runs off the org actor
// so that a resume storm never stalls delivery.
func (h *Hub) goResolve(org *actor.PID, orgID string, sub *coreSub, pos orgcore.Position, head uint64) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		res := &bounded{connID: sub.ID}
		defer func() { h.sys.Root.Send(org, res) }()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.RecoverTimeout)
		defer cancel()
		first, logHead, err := h.cfg.Log.Bounds(ctx, orgID)
		if err == nil && orgcore.AheadOf(pos, h.cfg.Log.Epoch(), max(head, logHead)) {
			// This node's replica may lag the acks: only the leader can
			// tell a position another node served from an invalid one.
			logHead, err = h.cfg.Log.LeaderHead(ctx, orgID)
		}
		if err != nil {
			h.log.Warn("resume: read log bounds", zap.String("org", orgID), zap.Error(err))
			res.failed = true
			return
		}
		res.first, res.logHead = first, logHead
	}()
}

// goReplay sends sub the events from..to: those older than snap from the log,
// then the window's frames in snap, paced by the client's reading. It
// reports the next seq back to the org actor, which catches up from there.
func (h *Hub) goReplay(org *actor.PID, orgID string, sub *coreSub, from, to uint64, snap []*messages.Frame) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		res := &resolved{connID: sub.ID}
		defer func() { h.sys.Root.Send(org, res) }()
		next, ok := h.replay(orgID, sub.Conn, &sub.Scope, from, to, snap)
		res.next, res.failed = next, !ok
	}()
}

// replay pushes what sub's scope allows of from..to (the log's events are
// filtered before they are encoded); the seqs it skips count as served.
func (h *Hub) replay(org string, sub *subscriber, scope *messages.Scope, from, to uint64, snap []*messages.Frame) (uint64, bool) {
	snapFirst := to + 1 - uint64(len(snap))
	for from < snapFirst && from <= to {
		evs, err := h.readLog(org, from, min(replayChunk, int(snapFirst-from)))
		if err != nil {
			h.log.Warn("replay: read log", zap.String("org", org), zap.Uint64("from", from), zap.Error(err))
			return from, false
		}
		if len(evs) == 0 || evs[0].Seq != from {
			// Aged out, or deleted (a hole), while we were replaying: the
			// client resumes and is told with a reset (the log's Bounds
			// then starts after what is missing).
			h.log.Info("replay: the log no longer holds the next event; the stream resumes and is reset",
				zap.String("org", org), zap.Uint64("seq", from))
			return from, false
		}
		for i := range evs {
			if evs[i].Seq != from || from >= snapFirst {
				break
			}
			if !scope.Allows(evs[i].Topic, evs[i].To) {
				from++
				continue
			}
			f := messages.EncodeEventIn(evs[i], h.cfg.Log.Epoch())
			if !h.pushPaced(sub, &f) {
				return from, false
			}
			h.cfg.Metrics.Replayed.Add(1)
			from++
		}
	}
	for from <= to {
		if f := snap[from-snapFirst]; !scope.AllowsFrame(f) {
			from++
			continue
		}
		if !h.pushPaced(sub, snap[from-snapFirst]) {
			return from, false
		}
		h.cfg.Metrics.Replayed.Add(1)
		from++
	}
	return from, true
}

func (h *Hub) readLog(org string, from uint64, n int) ([]messages.Event, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.RecoverTimeout)
		var evs []messages.Event
		evs, err = h.cfg.Log.Read(ctx, org, from, n)
		cancel()
		if err == nil {
			return evs, nil
		}
		select {
		case <-h.ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return nil, err
}

// pushPaced queues f for sub, waiting while its outbox is half full.
func (h *Hub) pushPaced(sub *subscriber, f *messages.Frame) bool {
	kick, ok := sub.pushFrame(f, modeWait)
	if kick {
		h.sys.Root.Send(sub.pid, flushMsg)
	}
	return ok
}
