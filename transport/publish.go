package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// publishResult is the answer to a publish, whatever carried it: an HTTP
// status and a JSON body. err is set for refusals (for the log).
type publishResult struct {
	status int
	body   []byte
	err    *apiError
}

func refusal(e *apiError) publishResult {
	return publishResult{status: e.Status, body: e.body(), err: e}
}

// publish is the one code path of publishing, shared by HTTP and NATS: check
// the org and the body, parse, check readiness, append, and shape the
// answer. Authentication is the caller's (HTTP checks a token; NATS access
// is the trust boundary there).
func (s *Server) publish(ctx context.Context, org string, body []byte) publishResult {
	if !messages.ValidOrg(org) {
		return refusal(newAPIError(http.StatusBadRequest, CodeInvalidOrg, "invalid org id"))
	}
	if len(body) > MaxPublishBody {
		return refusal(bodyTooLarge())
	}
	p, err := messages.ParsePublish(body)
	if err != nil {
		var me *messages.Error
		if errors.As(err, &me) {
			return refusal(newAPIError(http.StatusBadRequest, me.Code, me.Message))
		}
		return refusal(newAPIError(http.StatusBadRequest, CodeBadRequest, "malformed publish body"))
	}
	if err := servingErr(s.cfg.Readiness.Ready()); err != nil {
		return refusal(notReadyError(err))
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	seqs, allDup, err := s.cfg.Publisher.Publish(ctx, org, p.Drafts)
	if err != nil {
		var me *messages.Error
		if errors.As(err, &me) {
			return refusal(newAPIError(http.StatusBadRequest, me.Code, me.Message))
		}
		s.cfg.Metrics.PublishErrors.Add(1)
		lvl := zap.WarnLevel
		if errors.Is(err, ErrLogUnavailable) {
			// Refused while the log is known to be down: the node warned
			// once already, not once per publish.
			lvl = zap.DebugLevel
		}
		s.log.Log(lvl, "publish failed", zap.String("org", org), zap.Int("events", len(p.Drafts)), zap.Error(err))
		return refusal(publishError(err))
	}
	if len(seqs) != len(p.Drafts) {
		s.cfg.Metrics.PublishErrors.Add(1)
		s.log.Error("publisher broke its contract", zap.String("org", org),
			zap.Int("events", len(p.Drafts)), zap.Int("seqs", len(seqs)))
		return refusal(newAPIError(http.StatusInternalServerError, CodeInternal, "internal error"))
	}

	status := http.StatusCreated
	if allDup {
		status = http.StatusOK
	}
	return publishResult{status: status, body: appendSeqs(nil, seqs, p.Batch)}
}

// publishError maps a Publisher error (see Publisher) to its refusal.
func publishError(err error) *apiError {
	switch {
	case errors.Is(err, ErrPublishTooLarge):
		return newAPIError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			"an event is over the log's size limit (the NATS server's max payload): nothing stored, a retry cannot succeed")
	case errors.Is(err, ErrOutcomeUnknown):
		// The log may commit the events after all (once it has a quorum
		// again): the same ids make a retry safe either way.
		return newAPIError(http.StatusServiceUnavailable, CodeOutcomeUnknown,
			"the outcome is unknown: the events may be stored; retry with the same ids (a retry of events the log took returns their seqs)")
	default:
		return newAPIError(http.StatusServiceUnavailable, CodeLogUnavailable,
			"the log is unavailable: nothing stored; retry with the same ids")
	}
}

// appendSeqs encodes {"seq":N} or, for a batch, {"seqs":[N,…]}.
func appendSeqs(dst []byte, seqs []uint64, batch bool) []byte {
	if !batch && len(seqs) == 1 {
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendUint(dst, seqs[0], 10)
		return append(dst, '}')
	}
	dst = append(dst, `{"seqs":[`...)
	for i, s := range seqs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, s, 10)
	}
	return append(dst, "]}"...)
}

func bodyTooLarge() *apiError {
	return newAPIError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "body over 1 MiB")
}

// handlePublish serves POST /v2/realtime/orgs/{org}/events. Checks, in
// order: token (401), org id (400), scope and org of the token (403), body
// size (413), then the shared publish path.
func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	_, org, ok := s.orgToken(w, r, "", publishOrg)
	if !ok {
		return
	}
	if r.ContentLength > MaxPublishBody {
		s.refuse(w, r, bodyTooLarge())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublishBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(w, r, bodyTooLarge())
			return
		}
		s.refuse(w, r, newAPIError(http.StatusBadRequest, CodeBadRequest, "could not read the body"))
		return
	}
	res := s.publish(r.Context(), org, body)
	if res.err != nil {
		s.refuse(w, r, res.err)
		return
	}
	writeJSON(w, res.status, res.body)
}
