package persistence

import (
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// natsLogger bridges nats-server's Logger to zap: notices are Info, warnings
// Warn, errors Error. Debug and trace stay off at the server (SetLoggerV2
// flags) and map to Debug should they be enabled. A fatal error is logged as
// Error and kept: an embedded server reports e.g. a JetStream start failure
// that way and carries on without it, so StartEmbedded turns it into an
// error instead of the process exiting.
type natsLogger struct {
	lg *zap.SugaredLogger

	mu    sync.Mutex
	fatal string
}

func (l *natsLogger) Noticef(format string, v ...any) { l.lg.Infof(format, v...) }
func (l *natsLogger) Warnf(format string, v ...any) {
	if format == plaintextPasswordsWarning {
		// Dropped: our users' passwords are options in memory (the
		// daemon's is random per start), not a config file on disk;
		// bcrypt would only cost every publisher's connect a hash.
		return
	}
	l.lg.Warnf(format, v...)
}

// plaintextPasswordsWarning is nats-server's warning about passwords in its
// configuration that are not bcrypt hashes.
const plaintextPasswordsWarning = "Plaintext passwords detected, use nkeys or bcrypt"

func (l *natsLogger) Errorf(format string, v ...any) { l.lg.Errorf(format, v...) }
func (l *natsLogger) Debugf(format string, v ...any) { l.lg.Debugf(format, v...) }
func (l *natsLogger) Tracef(format string, v ...any) { l.lg.Debugf(format, v...) }

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.lg.Error(msg)
	l.mu.Lock()
	if l.fatal == "" {
		l.fatal = msg
	}
	l.mu.Unlock()
}

// fatalError is the first fatal error logged, or "".
func (l *natsLogger) fatalError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
