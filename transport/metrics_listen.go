package transport

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// metricsServer serves the metrics routes on Config.MetricsListen, apart
// from the public port: Prometheus scrapes it on an address that clients
// cannot reach. It is plain net/http (no WebSocket, no publish), started by
// Server.Start and stopped by Server.Shutdown.
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenMetrics binds Config.MetricsListen; nil when it is empty.
func (s *Server) listenMetrics() (*metricsServer, error) {
	if s.cfg.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("transport: metrics listen %s: %w", s.cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	s.metricsRoutes(mux)
	return &metricsServer{
		ln: ln,
		srv: &http.Server{
			Handler:           s.accessLog(s.jsonFallback(mux)),
			ReadHeaderTimeout: s.cfg.HeaderTimeout,
			ReadTimeout:       httpReadTimeout,
			WriteTimeout:      httpReadTimeout,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    maxHeadSize,
			ErrorLog:          log.New(redactingWriter{s.log.Named("metrics")}, "", 0),
		},
	}, nil
}

// serve runs the metrics server on s.wg until shutdown.
func (m *metricsServer) serve(s *Server) {
	s.wg.Go(func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", zap.Error(err))
		}
	})
	s.log.Info("metrics listening", zap.String("addr", m.ln.Addr().String()),
		zap.Strings("routes", []string{"/metrics", "/v2/realtime/metrics"}))
}

// shutdown stops accepting, lets scrapes in flight finish until ctx ends
// (then cuts them), and closes the listener.
func (m *metricsServer) shutdown(ctx context.Context) error {
	var err error
	if e := m.srv.Shutdown(ctx); e != nil {
		err = fmt.Errorf("transport: metrics shutdown: %w", e)
		_ = m.srv.Close()
	}
	// Serve may not have taken the listener yet.
	_ = m.ln.Close()
	return err
}

// MetricsAddr returns the address Config.MetricsListen is bound to (with
// the port resolved), or "" when metrics are served on Listen or before
// Start.
func (s *Server) MetricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metricsSrv == nil {
		return ""
	}
	return s.metricsSrv.ln.Addr().String()
}
