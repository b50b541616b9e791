package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/actors/orgcore"
	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/persistence"
)

// spawnOrg asks the supervisor to start an org actor for an entry.
type spawnOrg struct{ entry *orgEntry }

// orgEnv is all an org actor sees of its node: the settings, the log, the
// counters, the starters of the goroutines that read the log for it, and
// the fan-out pool. It is not the hub, whose connections and entries are
// none of the org actor's business.
type orgEnv struct {
	ctx            context.Context // ends when the hub shuts down
	log            persistence.Log
	metrics        *metrics.Metrics
	logger         *zap.Logger
	core           orgcore.Config // Epoch is set at each start
	recoverTimeout time.Duration
	appendRetries  int
	// resolve and replay start the goroutines of OpResolve and OpReplay.
	resolve func(org *actor.PID, orgID string, sub *coreSub, pos orgcore.Position, head uint64)
	replay  func(org *actor.PID, orgID string, sub *coreSub, from, to uint64, snap []*messages.Frame)
	fanout  *fanout
	// dispatcher runs the org actors' and writers' mailboxes; nil means
	// protoactor's default (a goroutine per run).
	dispatcher *reuseDispatcher
}

// orgThroughput is how many messages an org actor or writer handles per
// mailbox run (protoactor's default).
const orgThroughput = 300

// props are the props of an org actor or writer made by producer, on the
// env's dispatcher.
func (env *orgEnv) props(producer actor.Producer) *actor.Props {
	if env.dispatcher == nil {
		return actor.PropsFromProducer(producer)
	}
	return actor.PropsFromProducer(producer, actor.WithDispatcher(env.dispatcher))
}

func (h *Hub) orgEnv() *orgEnv {
	return &orgEnv{
		ctx: h.ctx, log: h.cfg.Log, metrics: h.cfg.Metrics, logger: h.log,
		core:           h.cfg.coreConfig(),
		recoverTimeout: h.cfg.RecoverTimeout, appendRetries: h.cfg.AppendRetries,
		resolve: h.goResolve, replay: h.goReplay, fanout: h.fanout,
		dispatcher: h.orgDispatcher,
	}
}

// supervisor is the parent of every org actor. A panic in an org actor
// restarts it with exponential backoff; the restarted actor rebuilds its
// state from the log and keeps its subscribers (DESIGN.md invariant 9).
type supervisor struct{ env *orgEnv }

func newSupervisorProps(h *Hub) *actor.Props {
	strategy := &countingStrategy{
		metrics: h.cfg.Metrics, log: h.log,
		inner: actor.NewExponentialBackoffStrategy(time.Minute, h.cfg.RestartBackoff),
	}
	env := h.orgEnv()
	return actor.PropsFromProducer(func() actor.Actor { return &supervisor{env: env} },
		actor.WithSupervisor(strategy))
}

func (s *supervisor) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*spawnOrg)
	if !ok {
		return
	}
	e := m.entry
	pid := ctx.Spawn(s.env.props(func() actor.Actor {
		return &orgActor{env: s.env, org: e.org, entry: e}
	}))
	ctx.Respond(pid)
}

// countingStrategy logs and counts each org actor failure, then defers to
// the backoff strategy.
type countingStrategy struct {
	metrics *metrics.Metrics
	log     *zap.Logger
	inner   actor.SupervisorStrategy
}

func (s *countingStrategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason interface{}, message interface{}) {
	s.metrics.OrgActorRestarts.Add(1)
	s.log.Error("org actor failed; restarting", zap.String("pid", child.Id), zap.Any("reason", reason))
	s.inner.HandleFailure(sys, sup, child, rs, reason, message)
}
