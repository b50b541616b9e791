package transport

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/orgstream/orgstream/messages"
)

// PresencePath is the route of an org's presence.
const PresencePath = "/v2/realtime/orgs/{org}/presence"

// CodePresenceDisabled is the code of the 404 a node started with
// --presence=false answers on PresencePath.
const CodePresenceDisabled = "presence_disabled"

// ErrPresenceDisabled is what a Presence error wraps when presence is
// turned off on this node: 404 presence_disabled.
var ErrPresenceDisabled = errors.New("transport: presence is disabled")

// Presence tells who is connected to an org across the cluster.
type Presence interface {
	// Presence returns org's open streams on every node, as this node last
	// heard of them, with its users sorted by id. An error wrapping
	// ErrPresenceDisabled means 404; any other, 503 not_ready.
	Presence(org string) (messages.Presence, error)
}

// handlePresence serves GET /v2/realtime/orgs/{org}/presence. Checks, in
// order: token (401), org id (400), the token's org (403: any scope of that
// org, or a publisher of every org), readiness (503).
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request) {
	fallback := ""
	if q, err := parseStreamQuery(r.URL.RawQuery); err == nil {
		fallback = q.Token
	}
	_, org, ok := s.orgToken(w, r, fallback, readOrg)
	if !ok {
		return
	}
	if err := servingErr(s.cfg.Readiness.Ready()); err != nil {
		s.refuse(w, r, notReadyError(err))
		return
	}
	if s.cfg.Presence == nil {
		s.refuse(w, r, presenceDisabled())
		return
	}
	p, err := s.cfg.Presence.Presence(org)
	switch {
	case errors.Is(err, ErrPresenceDisabled):
		s.refuse(w, r, presenceDisabled())
		return
	case err != nil:
		s.refuse(w, r, newAPIError(http.StatusServiceUnavailable, CodeNotReady, "presence is not available yet"))
		return
	}
	if p.Users == nil {
		p.Users = []messages.PresenceUser{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		s.refuse(w, r, newAPIError(http.StatusInternalServerError, CodeInternal, "internal error"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
}

func presenceDisabled() *apiError {
	return newAPIError(http.StatusNotFound, CodePresenceDisabled, "presence is turned off on this node (--presence=false)")
}
