package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

// TicketsPath issues connect tickets (PROTOCOL.md "Connect tickets").
const TicketsPath = "/v2/realtime/tickets"

// CodeInvalidTicket is the 401 of a stream whose ticket is malformed,
// unknown, used or expired (one code: a caller learns nothing about
// tickets it does not hold).
const CodeInvalidTicket = "invalid_ticket"

// ErrInvalidTicket is what a Tickets.Redeem error wraps for a ticket that
// opens no stream: 401 invalid_ticket. Any other error is 503.
var ErrInvalidTicket = errors.New("transport: invalid ticket")

// maxTicketBody bounds the body of a ticket request, which is empty or {}.
const maxTicketBody = 1 << 10

// ticketTimeout bounds one Issue or Redeem where the request has no
// deadline of its own.
const ticketTimeout = 5 * time.Second

// Tickets issues and redeems single-use connect tickets: a browser, which
// cannot set headers on a WebSocket or an EventSource, trades its token for
// a ticket and puts the ticket, not the token, in the stream's URL.
type Tickets interface {
	// Issue stores claims under a fresh ticket.
	Issue(ctx context.Context, c auth.Claims) (ticket string, err error)
	// Redeem returns the claims of ticket, once; then ErrInvalidTicket.
	Redeem(ctx context.Context, ticket string) (auth.Claims, error)
	// TTL is how long a ticket stays good.
	TTL() time.Duration
}

// ticketBody is the 201 answer of TicketsPath.
type ticketBody struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"` // seconds
}

// handleTickets serves POST TicketsPath. Checks, in order: readiness (503),
// the token of the Authorization header only (401: a ticket exists to keep
// tokens out of URLs, so the query's access_token is not read), its org
// (403: one org, like a stream's), the body (400: empty or a JSON object),
// then the store (503).
func (s *Server) handleTickets(w http.ResponseWriter, r *http.Request) {
	if err := servingErr(s.cfg.Readiness.Ready()); err != nil {
		s.refuse(w, r, notReadyError(err))
		return
	}
	claims, err := s.cfg.Verifier.Verify(bearerToken(r.Header.Get("Authorization")), s.cfg.Now())
	if err != nil {
		s.refuse(w, r, tokenError(err))
		return
	}
	if e := streamOrgForbidden(claims); e != nil {
		s.refuse(w, r, e)
		return
	}
	if e := checkTicketBody(r.Body); e != nil {
		s.refuse(w, r, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), ticketTimeout)
	defer cancel()
	t, err := s.cfg.Tickets.Issue(ctx, claims)
	if err != nil {
		s.log.Warn("tickets: issue", zap.Error(err))
		s.refuse(w, r, newAPIError(http.StatusServiceUnavailable, CodeNotReady, "cannot issue a ticket now"))
		return
	}
	ttl := int((s.cfg.Tickets.TTL() + time.Second - 1) / time.Second)
	b, _ := json.Marshal(ticketBody{Ticket: t, ExpiresIn: ttl})
	writeJSON(w, http.StatusCreated, b)
}

// checkTicketBody accepts an empty body, or one JSON object (its fields are
// ignored: room for options later).
func checkTicketBody(body io.Reader) *apiError {
	b, err := io.ReadAll(io.LimitReader(body, maxTicketBody+1))
	if err != nil {
		return newAPIError(http.StatusBadRequest, CodeBadRequest, "cannot read the body")
	}
	if len(b) > maxTicketBody {
		return newAPIError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body must be empty or {}")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil || obj == nil {
		return newAPIError(http.StatusBadRequest, CodeBadRequest, "the body must be empty or {}")
	}
	return nil
}

// streamOrgForbidden is the 403 of claims that name no single org to
// stream (a publisher's "*"), or nil.
func streamOrgForbidden(claims auth.Claims) *apiError {
	if claims.Org == auth.AnyOrg || !messages.ValidOrg(claims.Org) {
		return newAPIError(http.StatusForbidden, CodeForbidden,
			"the token names no single org to subscribe to")
	}
	return nil
}

// redeemTicket is the token step of a stream with a ticket: the claims the
// ticket was issued for, whose token must still be unexpired.
func (s *Server) redeemTicket(ticket string) (auth.Claims, *apiError) {
	if s.cfg.Tickets == nil {
		return auth.Claims{}, invalidTicket()
	}
	ctx, cancel := context.WithTimeout(context.Background(), ticketTimeout)
	defer cancel()
	claims, err := s.cfg.Tickets.Redeem(ctx, ticket)
	switch {
	case errors.Is(err, ErrInvalidTicket):
		return claims, invalidTicket()
	case err != nil:
		s.log.Warn("tickets: redeem", zap.Error(err))
		return claims, newAPIError(http.StatusServiceUnavailable, CodeNotReady, "cannot redeem a ticket now")
	case !s.cfg.Now().Before(claims.Exp):
		return claims, tokenError(auth.ErrExpired)
	}
	return claims, nil
}

func invalidTicket() *apiError {
	return newAPIError(http.StatusUnauthorized, CodeInvalidTicket,
		"invalid ticket: malformed, unknown, already used or expired")
}
