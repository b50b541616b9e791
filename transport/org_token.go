package transport

import (
	"net/http"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

// orgRight is what a request on an org's route needs of its token.
type orgRight int

const (
	// readOrg (history, presence): any token of the org, or a publish token
	// of every org ("*"). A subscribe token of "*" names no org to read.
	readOrg orgRight = iota
	// publishOrg (publish): a publish token of the org or of every org.
	publishOrg
)

// orgToken checks the token of a request on an org's route, in the order
// every such route documents: the token (401), the path's org id (400),
// then the token's org and scope against right (403). The token is the
// Authorization header's bearer, else fallback (the query's access_token,
// or "" where the route takes none from the query).
//
// Publish, history and presence share it so that their refusals (status,
// code and text) cannot drift apart. On a refusal it has written the
// answer and ok is false.
func (s *Server) orgToken(w http.ResponseWriter, r *http.Request, fallback string, right orgRight) (claims auth.Claims, org string, ok bool) {
	token := bearerToken(r.Header.Get("Authorization"))
	if token == "" {
		token = fallback
	}
	// Verify refuses an empty token as auth.ErrMissing.
	claims, err := s.cfg.Verifier.Verify(token, s.cfg.Now())
	if err != nil {
		s.refuse(w, r, tokenError(err))
		return claims, "", false
	}
	org = r.PathValue("org")
	if !messages.ValidOrg(org) {
		s.refuse(w, r, newAPIError(http.StatusBadRequest, CodeInvalidOrg, "invalid org id"))
		return claims, org, false
	}
	if e := orgForbidden(claims, org, right); e != nil {
		s.refuse(w, r, e)
		return claims, org, false
	}
	return claims, org, true
}

// orgForbidden is the 403 of claims on org for right, or nil.
func orgForbidden(claims auth.Claims, org string, right orgRight) *apiError {
	switch right {
	case publishOrg:
		if !claims.CanPublish(org) {
			return newAPIError(http.StatusForbidden, CodeForbidden, "the token may not publish to this org")
		}
	default:
		if claims.Org != org && !claims.CanPublish(org) {
			return newAPIError(http.StatusForbidden, CodeForbidden, "the token is not for this org")
		}
	}
	return nil
}
