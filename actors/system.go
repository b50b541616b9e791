package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
)

// newActorSystem starts a protoactor system whose slog output goes to zap,
// warnings and above only: protoactor is chatty at info.
func newActorSystem(log *zap.Logger) *actor.ActorSystem {
	core := log.Named("protoactor").WithOptions(zap.IncreaseLevel(zapcore.WarnLevel)).Core()
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(zapslog.NewHandler(core))
	}))
}
