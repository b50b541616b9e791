package transport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// History reads pages of an org's events (GET /v2/realtime/orgs/{org}/events).
type History interface {
	// History returns the events after `after` that scope allows, at most
	// limit, examining at most messages.MaxHistoryScan seqs (see
	// messages.HistoryPage). An error means 503 log_unavailable.
	History(ctx context.Context, org string, after uint64, limit int, scope messages.Scope) (messages.HistoryPage, error)
}

// CodeWindowExceeded: a history read from before the org's oldest retained
// event (410).
const CodeWindowExceeded = "window_exceeded"

// historyQuery is the query of a history request.
type historyQuery struct {
	token  string
	after  uint64
	limit  int
	topics []string
}

// Errors of parseHistoryQuery; each is a 400 invalid_query.
var (
	errHistoryAfter = errors.New("transport: after is required: the seq after which events are read (0 for the oldest retained)")
	errHistoryLimit = errors.New("transport: limit must be an integer from 1 to 1000")
)

// parseHistoryQuery parses access_token (optional), after (required, a
// non-negative integer), limit (optional, 1..messages.MaxHistoryLimit,
// default messages.DefaultHistoryLimit) and topics (optional, as the
// stream's). Each may appear once, with a value; unknown parameters are
// ignored. Errors never quote a value.
func parseHistoryQuery(raw string) (historyQuery, error) {
	q := historyQuery{limit: messages.DefaultHistoryLimit}
	hasAfter := false
	err := eachParam(raw, historyParams, func(key, val string) error {
		switch key {
		case "access_token":
			q.token = val
		case "after":
			n, ok := parseSeq(val)
			if !ok {
				return errHistoryAfter
			}
			q.after, hasAfter = n, true
		case "limit":
			n, ok := parseSeq(val)
			if !ok || n < 1 || n > messages.MaxHistoryLimit {
				return errHistoryLimit
			}
			q.limit = int(n)
		case "topics":
			ts, err := parseTopics(val)
			if err != nil {
				return err
			}
			q.topics = ts
		}
		return nil
	})
	if err != nil {
		return q, err
	}
	if !hasAfter {
		return q, errHistoryAfter
	}
	return q, nil
}

// historyParams are the parameters parseHistoryQuery knows.
var historyParams = []string{"access_token", "after", "limit", "topics"}

// handleHistory serves GET /v2/realtime/orgs/{org}/events: a page of the
// org's events for any token of the org (a publish token for "*" too; a
// subscribe token for "*" names no org), filtered by
// the token's scope (its topics, narrowed by a topics query, and its sub
// against each event's "to") exactly as a stream would be.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	if err := servingErr(s.cfg.Readiness.Ready()); err != nil {
		s.refuse(w, r, notReadyError(err))
		return
	}
	q, err := parseHistoryQuery(r.URL.RawQuery)
	if err != nil {
		s.refuse(w, r, newAPIError(http.StatusBadRequest, CodeInvalidQuery, strings.TrimPrefix(err.Error(), "transport: ")))
		return
	}
	claims, org, ok := s.orgToken(w, r, q.token, readOrg)
	if !ok {
		return
	}
	scope, e := streamScope(claims, q.topics)
	if e != nil {
		s.refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PublishTimeout)
	defer cancel()
	page, err := s.cfg.History.History(ctx, org, q.after, q.limit, scope)
	if err != nil {
		s.log.Warn("history read failed", zap.String("org", org), zap.Error(err))
		s.refuse(w, r, newAPIError(http.StatusServiceUnavailable, CodeLogUnavailable, "the log is unavailable; retry"))
		return
	}
	if page.Expired {
		b := []byte(`{"error":"after is older than the oldest retained event","code":"` + CodeWindowExceeded + `","first":`)
		b = strconv.AppendUint(b, page.First, 10)
		b = append(b, `,"head":`...)
		b = strconv.AppendUint(b, page.Head, 10)
		writeJSON(w, http.StatusGone, append(b, '}'))
		return
	}
	writeJSON(w, http.StatusOK, appendHistory(nil, &page))
}

// appendHistory encodes a page: {"epoch","head","first","last","events":[…]}
// with each event the stored frame's object without "type".
func appendHistory(b []byte, p *messages.HistoryPage) []byte {
	size := 96 + len(p.Epoch)
	for _, f := range p.Frames {
		size += len(f.Plain) + 1
	}
	if b == nil {
		b = make([]byte, 0, size)
	}
	b = append(b, `{"epoch":`...)
	b = strconv.AppendQuote(b, p.Epoch)
	b = append(b, `,"head":`...)
	b = strconv.AppendUint(b, p.Head, 10)
	b = append(b, `,"first":`...)
	b = strconv.AppendUint(b, p.First, 10)
	b = append(b, `,"last":`...)
	b = strconv.AppendUint(b, p.Last, 10)
	b = append(b, `,"events":[`...)
	n := 0
	for _, f := range p.Frames {
		if n > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = messages.AppendEventObject(b, f); ok {
			n++
		} else if n > 0 {
			b = b[:len(b)-1]
		}
	}
	return append(b, "]}"...)
}
