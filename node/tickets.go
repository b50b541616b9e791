package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orgstream/orgstream/tickets"
	"github.com/orgstream/orgstream/transport"
	"github.com/orgstream/orgstream/transport/auth"
)

// nodeTickets implements transport.Tickets with the node's ticket store,
// which opens with the log: until then every call fails with ErrStarting
// (503; the readiness check refuses first anyway).
type nodeTickets struct{ n *Node }

func (t nodeTickets) Issue(ctx context.Context, c auth.Claims) (string, error) {
	s := t.n.tickets.Load()
	if s == nil {
		return "", ErrStarting
	}
	return s.Issue(ctx, c)
}

func (t nodeTickets) Redeem(ctx context.Context, ticket string) (auth.Claims, error) {
	s := t.n.tickets.Load()
	if s == nil {
		return auth.Claims{}, ErrStarting
	}
	c, err := s.Redeem(ctx, ticket)
	if errors.Is(err, tickets.ErrInvalid) {
		return c, fmt.Errorf("node: %w", transport.ErrInvalidTicket)
	}
	return c, err
}

func (t nodeTickets) TTL() time.Duration {
	if s := t.n.tickets.Load(); s != nil {
		return s.TTL()
	}
	if t.n.cfg.TicketTTL > 0 {
		return t.n.cfg.TicketTTL
	}
	return tickets.DefaultTTL
}
