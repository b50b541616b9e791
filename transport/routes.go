package transport

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/transport/console"
)

// routes builds the net/http side: every route of PROTOCOL.md but the raw
// stream upgrade, with JSON bodies for 404/405 and an access log.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	if s.cfg.MetricsListen == "" {
		s.metricsRoutes(mux)
	}
	mux.HandleFunc("POST /v2/realtime/orgs/{org}/events", s.handlePublish)
	if s.cfg.History != nil {
		mux.HandleFunc("GET /v2/realtime/orgs/{org}/events", s.handleHistory)
	}
	mux.HandleFunc("GET "+StreamPath, s.handleStreamHTTP)
	mux.HandleFunc("GET "+PresencePath, s.handlePresence)
	mux.HandleFunc("GET "+SSEPath, s.handleSSE)
	if s.cfg.Tickets != nil {
		mux.HandleFunc("POST "+TicketsPath, s.handleTickets)
	}
	// The console: index.html at "/" exactly, its files under /console/;
	// its 404/405 get the JSON body of every other route.
	page := s.jsonErrors(console.Handler())
	mux.Handle("GET /{$}", page)
	mux.Handle("GET "+console.AssetPrefix, page)
	mux.HandleFunc("GET "+ConsoleConfigPath, s.handleConsoleConfig)
	if s.cfg.Dev {
		mux.HandleFunc("POST "+DevTokensPath, s.handleDevToken)
	}
	return s.accessLog(s.jsonFallback(mux))
}

// metricsRoutes adds the two metrics routes to mux: the public one, or the
// one of Config.MetricsListen.
func (s *Server) metricsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(s.log.Named("metrics")),
	}))
	mux.HandleFunc("GET /v2/realtime/metrics", s.handleMetricsJSON)
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// CodeReady is the code of a /readyz 200.
const CodeReady = "ready"

// readyBody is every /readyz answer: the state and its code (the same
// word: ready, not_ready, draining, log_unavailable), never the error behind
// it, which may carry NATS errors, addresses or stream names. That detail
// goes to the log at Debug.
type readyBody struct {
	Status string `json:"status"`
	Code   string `json:"code"`
	// JWKS is the identity provider's key set's state (auth.JWKSOK,
	// JWKSStale, JWKSUnavailable) when a JWKS URL is configured. It never
	// makes the node unready: HS256 and PEM keys still verify.
	JWKS string `json:"jwks,omitempty"`
}

func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	jwks := s.cfg.Verifier.JWKSStatus().State
	err := s.cfg.Readiness.Ready()
	if err == nil {
		b, _ := json.Marshal(readyBody{Status: CodeReady, Code: CodeReady, JWKS: jwks})
		writeJSON(w, http.StatusOK, b)
		return
	}
	e := notReadyError(err)
	s.log.Debug("readyz: not ready", zap.String("code", e.Code), zap.Error(err))
	b, _ := json.Marshal(readyBody{Status: e.Code, Code: e.Code, JWKS: jwks})
	writeJSON(w, e.Status, b)
}

func (s *Server) handleMetricsJSON(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(s.cfg.Metrics.Snapshot(s.cfg.Now()))
	if err != nil {
		s.refuse(w, nil, newAPIError(http.StatusInternalServerError, CodeInternal, "metrics unavailable"))
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// jsonFallback serves mux, turning its plain-text 404 and 405 into the JSON
// error body every orgstream error has (the Allow header of 405 is kept).
func (s *Server) jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		s.jsonErrors(h).ServeHTTP(w, r)
	})
}

// jsonErrors serves h, turning the plain-text body of any error status it
// writes into the JSON error body.
func (s *Server) jsonErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&jsonStatusWriter{ResponseWriter: w, srv: s, r: r}, r)
	})
}

// jsonStatusWriter replaces the body of an error status with JSON.
type jsonStatusWriter struct {
	http.ResponseWriter
	srv     *Server
	r       *http.Request
	wrote   bool
	replace bool
}

func (w *jsonStatusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replace = true
	e := newAPIError(code, CodeInternal, http.StatusText(code))
	switch code {
	case http.StatusNotFound:
		e.Code, e.Message = CodeNotFound, "no such route"
	case http.StatusMethodNotAllowed:
		e.Code, e.Message = CodeMethodNotAllowed, "method not allowed on this route"
	}
	w.Header().Del("X-Content-Type-Options")
	w.srv.refuse(w.ResponseWriter, w.r, e)
}

func (w *jsonStatusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replace {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *jsonStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs every request at Debug: method, path (never the query),
// status, duration, remote address, user agent.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Core().Enabled(zap.DebugLevel) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.log.Debug("http request",
			zap.String("method", r.Method),
			zap.String("path", redactText(r.URL.Path)),
			zap.Int("status", status),
			zap.Duration("duration", time.Since(start)),
			zap.String("remote", r.RemoteAddr),
			zap.String("user_agent", r.UserAgent()))
	})
}

// statusWriter records the status; Unwrap keeps Hijack reachable through
// http.ResponseController (the WebSocket fallback needs it).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
