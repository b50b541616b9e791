package transport

import (
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// NATS publish responder names.
const (
	// NATSPublishSubject is the subject backends send publish requests to;
	// the last token is the org.
	NATSPublishSubject = "orgstream.publish.*"
	// NATSQueue is the queue group of every node's responder, so that each
	// request is served once per cluster.
	NATSQueue = "orgstream"
	// NATSStatusHeader carries the HTTP-equivalent status of a reply.
	NATSStatusHeader = "Orgstream-Status"
)

// onNATSPublish is the subscription callback. It runs on the subscription's
// delivery goroutine, so each request is served on its own goroutine (at most
// natsConcurrency at once; past that the callback waits, which holds back
// delivery instead of piling up goroutines).
func (s *Server) onNATSPublish(m *nats.Msg) {
	s.natsMu.Lock()
	if s.natsClosed {
		s.natsMu.Unlock()
		s.replyNATS(m, refusal(notReadyError(ErrDraining)))
		return
	}
	s.natsWG.Add(1)
	s.natsMu.Unlock()

	select {
	case s.natsSem <- struct{}{}:
	case <-s.done:
		s.natsWG.Done()
		s.replyNATS(m, refusal(notReadyError(ErrDraining)))
		return
	}
	go func() {
		defer s.natsWG.Done()
		defer func() { <-s.natsSem }()
		org := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		res := s.publish(s.ctx, org, m.Data)
		if res.err != nil {
			s.logRefusal(res.err, []zap.Field{zap.String("subject", m.Subject)})
		}
		s.replyNATS(m, res)
	}()
}

// replyNATS sends res to the request's reply subject (if it has one) with
// the status in the Orgstream-Status header.
func (s *Server) replyNATS(m *nats.Msg, res publishResult) {
	if m.Reply == "" {
		return
	}
	reply := &nats.Msg{
		Subject: m.Reply,
		Data:    res.body,
		Header:  nats.Header{NATSStatusHeader: []string{strconv.Itoa(res.status)}},
	}
	if err := s.cfg.NATS.PublishMsg(reply); err != nil {
		s.log.Warn("nats publish reply failed", zap.String("subject", m.Subject),
			zap.Int("status", res.status), zap.Error(err))
	}
}
