package transport

import (
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// refuse writes e as the response to r and logs the refusal. r may be nil.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeHTTPError(w, e)
	var f []zap.Field
	if r != nil {
		f = []zap.Field{
			zap.String("method", r.Method),
			zap.String("path", redactText(r.URL.Path)),
			zap.String("remote", r.RemoteAddr),
			zap.String("user_agent", r.UserAgent()),
		}
	}
	s.logRefusal(e, f)
}

// logRefusal writes the one log line of a refused request: at Info (Warn
// for a 5xx other than draining), or at Debug once its code passed the
// sampler's rate (log_sample.go). The fields must carry no query string and
// no Authorization value.
func (s *Server) logRefusal(e *apiError, fields []zap.Field) {
	lvl := zap.InfoLevel
	if e.Status >= 500 && e.Code != CodeDraining {
		lvl = zap.WarnLevel
	}
	logged, suppressed := s.refusals.sample(e.Code)
	if !logged {
		lvl = zap.DebugLevel
	}
	if ce := s.log.Check(lvl, "request refused"); ce != nil {
		fields = append(fields, zap.Int("status", e.Status), zap.String("code", e.Code))
		if suppressed > 0 {
			fields = append(fields, zap.Uint64("suppressed", suppressed))
		}
		ce.Write(fields...)
	}
}

// redactingWriter is the io.Writer behind net/http's ErrorLog: each line
// goes to zap at Warn with anything that looks like a token redacted.
type redactingWriter struct{ log *zap.Logger }

func (w redactingWriter) Write(p []byte) (int, error) {
	w.log.Warn(redactText(strings.TrimSpace(string(p))))
	return len(p), nil
}
