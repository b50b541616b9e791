package transport

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/orgstream/orgstream/metrics"
)

// httpReadTimeout bounds reading one request, body included, on net/http.
const httpReadTimeout = time.Minute

// natsConcurrency bounds the NATS publish requests served at once.
const natsConcurrency = 64

type serverState int

const (
	stateNew serverState = iota
	stateStarted
	stateClosed
)

// Server is orgstream's HTTP and WebSocket front: one TCP listener whose
// connections are routed either to the zero-copy WebSocket upgrade or to a
// net/http server, plus the optional NATS publish responder.
type Server struct {
	cfg     Config
	log     *zap.Logger
	reg     *prometheus.Registry
	started time.Time
	// refusals rate-limits the refusal log lines (log_sample.go).
	refusals *refusalSampler

	httpSrv *http.Server
	httpLn  *chanListener

	// ctx is the base of NATS publishes; cancel aborts them when Shutdown's
	// context expires first.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when Shutdown starts

	mu         sync.Mutex
	state      serverState
	ln         net.Listener
	metricsSrv *metricsServer // nil unless Config.MetricsListen
	sub        *nats.Subscription
	handshakes map[net.Conn]struct{} // conns read by serveConn, not yet handed on

	wg sync.WaitGroup // accept loop, serveConn goroutines, http.Server.Serve

	natsMu     sync.Mutex
	natsClosed bool
	natsWG     sync.WaitGroup // NATS publishes in flight
	natsSem    chan struct{}

	shutdownOnce sync.Once
	shutdownErr  error
}

// New checks cfg and builds a Server; nothing listens until Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		started:    cfg.Now(),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		handshakes: make(map[net.Conn]struct{}),
		natsSem:    make(chan struct{}, natsConcurrency),
		refusals:   newRefusalSampler(cfg.Now),
	}
	if cfg.Metrics.Start.IsZero() {
		cfg.Metrics.Start = s.started
	}
	s.reg = metrics.NewRegistry(cfg.Metrics, cfg.Now)
	if cfg.Verifier.JWKSStatus().State != "" {
		s.reg.MustRegister(jwksCollector{cfg.Verifier})
	}
	s.httpSrv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		// A publish body (1 MiB at most) must arrive within ReadTimeout; the
		// answer may wait for PublishTimeout. A hijacked stream clears both.
		ReadTimeout:    httpReadTimeout,
		WriteTimeout:   cfg.PublishTimeout + httpReadTimeout,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: maxHeadSize,
		ErrorLog:       log.New(redactingWriter{s.log.Named("http")}, "", 0),
	}
	return s, nil
}

// Start binds Config.Listen and starts serving. It returns once the
// listener is bound. The NATS responder starts apart (StartNATS): a node
// joins the publish queue group only once it can publish, so that requests
// go to the members that can take them.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStarted:
		return ErrStarted
	case stateClosed:
		return ErrClosed
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("transport: listen %s: %w", s.cfg.Listen, err)
	}
	ms, err := s.listenMetrics()
	if err != nil {
		_ = ln.Close()
		return err
	}
	s.ln, s.metricsSrv = ln, ms
	s.httpLn = newChanListener(ln.Addr())
	s.state = stateStarted
	s.wg.Add(2)
	go s.acceptLoop(ln)
	go s.serveHTTP()
	s.log.Info("transport listening", zap.String("addr", ln.Addr().String()))
	if ms != nil {
		ms.serve(s)
	}
	if s.cfg.Dev {
		s.log.Warn("dev mode: anyone who can reach this port can mint tokens",
			zap.String("addr", ln.Addr().String()), zap.String("route", "POST "+DevTokensPath))
	}
	return nil
}

// StartNATS subscribes the NATS publish responder (subject
// NATSPublishSubject, queue group NATSQueue) when Config.NATS is set. Call
// it once the Publisher can take publishes; a no-op without Config.NATS,
// after StopNATS or Shutdown, or when already subscribed.
func (s *Server) StartNATS() error {
	nc := s.cfg.NATS
	if nc == nil {
		return nil
	}
	s.natsMu.Lock()
	defer s.natsMu.Unlock()
	if s.natsClosed || s.sub != nil {
		return nil
	}
	sub, err := nc.QueueSubscribe(NATSPublishSubject, NATSQueue, s.onNATSPublish)
	if err != nil {
		return fmt.Errorf("transport: subscribe %s: %w", NATSPublishSubject, err)
	}
	s.sub = sub
	return nil
}

// StopNATS leaves the publish queue group, so that NATS publishes go to
// the other nodes (a draining node calls it first); requests already
// received are still answered. Idempotent; Shutdown calls it too.
func (s *Server) StopNATS() error {
	s.natsMu.Lock()
	s.natsClosed = true
	sub := s.sub
	s.sub = nil
	s.natsMu.Unlock()
	if sub == nil {
		return nil
	}
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) &&
		!errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("transport: unsubscribe: %w", err)
	}
	return nil
}

// Addr returns the address the server listens on (with the port resolved),
// or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting connections, closes the listener, stops the NATS
// responder, lets in-flight HTTP requests and NATS publishes finish (until
// ctx is done, then cuts them), and waits for every goroutine the Server
// started. Streams already handed to Streams.Open are not touched: they
// belong to Streams. Shutdown is idempotent; later calls wait for the first
// and return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	wasStarted := s.state == stateStarted
	s.state = stateClosed
	close(s.done)
	now := time.Now()
	for c := range s.handshakes {
		_ = c.SetDeadline(now) // unblock the head read or handshake write
	}
	s.mu.Unlock()
	defer s.cancel()
	if !wasStarted {
		return nil
	}

	var errs []error
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("transport: close listener: %w", err))
	}
	if err := s.StopNATS(); err != nil {
		errs = append(errs, err)
	}

	if err := s.httpSrv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("transport: http shutdown: %w", err))
		_ = s.httpSrv.Close()
	}
	if s.metricsSrv != nil {
		if err := s.metricsSrv.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// Serve may not have taken the listener yet; close it so that no
	// hand-off waits for an Accept that will not come.
	_ = s.httpLn.Close()
	natsDone := make(chan struct{})
	go func() { s.natsWG.Wait(); close(natsDone) }()
	select {
	case <-natsDone:
	case <-ctx.Done():
		s.cancel() // abort in-flight NATS publishes, then wait for them
		<-natsDone
		errs = append(errs, fmt.Errorf("transport: nats publishes: %w", ctx.Err()))
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// closing reports whether Shutdown has started.
func (s *Server) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Server) serveHTTP() {
	defer s.wg.Done()
	err := s.httpSrv.Serve(s.httpLn)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("http server stopped", zap.Error(err))
	}
}

// acceptLoop accepts until the listener closes, one serveConn goroutine per
// connection. Temporary errors (out of fds) back off as net/http does.
func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing() {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("delay", delay))
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		if !s.track(c) {
			_ = c.Close()
			return
		}
		go s.serveConn(c)
	}
}

// track registers a new connection (and its goroutine in wg) unless the
// server is closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateStarted {
		return false
	}
	s.handshakes[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack forgets c before it is handed on; false means the server is
// closing and c should be closed instead. After untrack, Shutdown no longer
// touches c's deadlines.
func (s *Server) untrack(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.handshakes, c)
	return s.state == stateStarted
}
