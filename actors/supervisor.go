package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// spawnOrg asks the supervisor to start an org actor for an entry.
type spawnOrg struct{ entry *orgEntry }

// supervisor is the parent of every org actor. A panic in an org actor
// restarts it with exponential backoff; the restarted actor rebuilds its
// state from the log and keeps its subscribers (DESIGN.md invariant 9).
type supervisor struct{ hub *Hub }

func newSupervisorProps(h *Hub) *actor.Props {
	strategy := &countingStrategy{
		hub:   h,
		inner: actor.NewExponentialBackoffStrategy(time.Minute, h.cfg.RestartBackoff),
	}
	return actor.PropsFromProducer(func() actor.Actor { return &supervisor{hub: h} },
		actor.WithSupervisor(strategy))
}

func (s *supervisor) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*spawnOrg)
	if !ok {
		return
	}
	e := m.entry
	pid := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &orgActor{hub: s.hub, org: e.org, entry: e, subs: e.subs}
	}))
	ctx.Respond(pid)
}

// countingStrategy logs and counts each org actor failure, then defers to
// the backoff strategy.
type countingStrategy struct {
	hub   *Hub
	inner actor.SupervisorStrategy
}

func (s *countingStrategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason interface{}, message interface{}) {
	s.hub.cfg.Metrics.OrgActorRestarts.Add(1)
	s.hub.log.Error("org actor failed; restarting", zap.String("pid", child.Id), zap.Any("reason", reason))
	s.inner.HandleFailure(sys, sup, child, rs, reason, message)
}
