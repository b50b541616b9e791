package transport

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

// streamRequest is what the stream checks need from a request, whether it
// came through the raw accept path or through net/http.
type streamRequest struct {
	rawQuery      string
	authorization string // first Authorization header
	origin        string // first Origin header
	hasOrigin     bool
	remoteAddr    string
	// sse: a Server-Sent Events request, which has no WebSocket handshake
	// to check.
	sse bool

	// Handshake facts (RFC 6455 §4.2.1), checked for every occurrence of a
	// repeated header as gobwas/ws does.
	proto11           bool // HTTP/1.1 or later
	hasHost           bool
	upgradeExact      bool // every Upgrade header is "websocket"
	connectionUpgrade bool // some Connection header, each with "upgrade"
	keyOK             bool // Sec-WebSocket-Key present, each 24 bytes
	versionPresent    bool
	versionOK         bool // every Sec-WebSocket-Version is 13
	extensionsOK      bool // every Sec-WebSocket-Extensions parses
}

// checkStream decides a stream request before any upgrade. The order is
// fixed: readiness (503), query (400), token or ticket (401), origin
// (403), topics (403), then the WebSocket handshake itself (400/426).
func (s *Server) checkStream(r *streamRequest) (Stream, *apiError) {
	if err := servingErr(s.cfg.Readiness.Ready()); err != nil {
		return Stream{}, notReadyError(err)
	}
	q, err := parseStreamQuery(r.rawQuery)
	if err != nil {
		return Stream{}, newAPIError(http.StatusBadRequest, CodeInvalidQuery,
			strings.TrimPrefix(err.Error(), "transport: "))
	}
	token := bearerToken(r.authorization)
	if token == "" {
		token = q.Token
	}
	var claims auth.Claims
	if q.Ticket != "" {
		// A ticket stands for the token (PROTOCOL.md "Connect tickets").
		if token != "" {
			return Stream{}, newAPIError(http.StatusBadRequest, CodeInvalidQuery,
				"a ticket and a token together: send one")
		}
		var e *apiError
		if claims, e = s.redeemTicket(q.Ticket); e != nil {
			return Stream{}, e
		}
	} else {
		var err error
		if claims, err = s.cfg.Verifier.Verify(token, s.cfg.Now()); err != nil {
			return Stream{}, tokenError(err)
		}
	}
	if e := streamOrgForbidden(claims); e != nil {
		return Stream{}, e
	}
	if r.hasOrigin && !s.cfg.originAllowed(r.origin) {
		return Stream{}, newAPIError(http.StatusForbidden, CodeOriginNotAllowed, "origin not allowed")
	}
	scope, e := streamScope(claims, q.Topics)
	if e != nil {
		return Stream{}, e
	}
	if !r.sse {
		if e := checkHandshake(r); e != nil {
			return Stream{}, e
		}
	}
	return Stream{
		Scope:      scope,
		Org:        claims.Org,
		User:       claims.Sub,
		Expiry:     claims.Exp,
		Resume:     q.HasSeq,
		LastSeq:    q.LastSeq,
		Epoch:      q.Epoch,
		RemoteAddr: r.remoteAddr,
		Presence:   q.Presence,
		Client:     q.Client,
	}, nil
}

// streamScope is what a stream of claims may see, narrowed by the topics
// query: every query pattern must be covered by the token's topics
// (messages.Covers: by one token pattern alone), else 403 topic_forbidden.
// The query's patterns are then the stream's topics: each matches only
// topics the token allows.
func streamScope(claims auth.Claims, query []string) (messages.Scope, *apiError) {
	s := messages.Scope{User: claims.Sub, Topics: claims.Topics}
	if query == nil {
		return s, nil
	}
	if claims.Topics != nil {
		for i, p := range query {
			if !messages.Covers(claims.Topics, p) {
				return s, newAPIError(http.StatusForbidden, CodeTopicForbidden,
					fmt.Sprintf("topics pattern %d is not covered by the token's topics", i+1))
			}
		}
	}
	s.Topics = query
	return s, nil
}

func checkHandshake(r *streamRequest) *apiError {
	bad := func(msg string) *apiError {
		return newAPIError(http.StatusBadRequest, CodeBadHandshake, msg)
	}
	switch {
	case !r.connectionUpgrade:
		return upgradeRequired()
	case !r.upgradeExact:
		return bad("the Upgrade header must be websocket")
	case !r.proto11:
		return bad("a WebSocket handshake needs HTTP/1.1")
	case !r.hasHost:
		return bad("missing Host header")
	case !r.keyOK:
		return bad("missing or malformed Sec-WebSocket-Key")
	case !r.versionPresent:
		return bad("missing Sec-WebSocket-Version")
	case !r.versionOK:
		e := newAPIError(http.StatusUpgradeRequired, CodeBadVersion, "unsupported Sec-WebSocket-Version")
		e.Header = [][2]string{{"Sec-WebSocket-Version", "13"}}
		return e
	case !r.extensionsOK:
		return bad("malformed Sec-WebSocket-Extensions")
	}
	return nil
}

func upgradeRequired() *apiError {
	e := newAPIError(http.StatusUpgradeRequired, CodeUpgradeRequired,
		"this endpoint is a WebSocket: send an Upgrade: websocket request")
	e.Header = [][2]string{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}
	return e
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" value,
// or "" for any other scheme.
func bearerToken(v string) string {
	const prefix = "bearer "
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(v[len(prefix):])
}

// streamRequestFromHead fills a streamRequest from a raw request head.
func streamRequestFromHead(h *requestHead, remote string) streamRequest {
	r := streamRequest{
		rawQuery:          string(h.rawQuery()),
		authorization:     string(h.authorization),
		origin:            string(h.origin),
		hasOrigin:         h.originCount > 0,
		remoteAddr:        remote,
		proto11:           h.major > 1 || (h.major == 1 && h.minor >= 1),
		hasHost:           h.hostCount > 0,
		upgradeExact:      h.upgradeCount > 0 && h.upgradeExact,
		connectionUpgrade: h.connectionCount > 0 && h.connectionUpgrade,
		keyOK:             h.wsKeyCount > 0 && !h.wsKeyBad,
		versionPresent:    h.wsVersionCount > 0,
		versionOK:         !h.wsVersionBad,
		extensionsOK:      true,
	}
	h.eachHeader(func(name, value []byte) bool {
		if bytes.EqualFold(name, hdrSecWebSocketExtensions) && !extensionsWellFormed(value) {
			r.extensionsOK = false
			return false
		}
		return true
	})
	return r
}

// streamRequestFromHTTP fills a streamRequest from a request net/http parsed.
func streamRequestFromHTTP(r *http.Request) streamRequest {
	h := r.Header
	sr := streamRequest{
		rawQuery:          r.URL.RawQuery,
		authorization:     h.Get("Authorization"),
		remoteAddr:        r.RemoteAddr,
		proto11:           r.ProtoAtLeast(1, 1),
		hasHost:           r.Host != "",
		upgradeExact:      everyValue(h["Upgrade"], func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "websocket") }),
		connectionUpgrade: everyValue(h["Connection"], func(v string) bool { return hasToken([]byte(v), tokUpgrade) }),
		keyOK:             everyValue(h["Sec-Websocket-Key"], func(v string) bool { return len(v) == 24 }),
		versionPresent:    len(h["Sec-Websocket-Version"]) > 0,
		versionOK:         everyValue(h["Sec-Websocket-Version"], func(v string) bool { return v == "13" }),
		extensionsOK:      true,
	}
	if vs, ok := h["Origin"]; ok && len(vs) > 0 {
		sr.origin, sr.hasOrigin = vs[0], true
	}
	for _, v := range h["Sec-Websocket-Extensions"] {
		if !extensionsWellFormed([]byte(v)) {
			sr.extensionsOK = false
		}
	}
	if !sr.versionPresent {
		sr.versionOK = false
	}
	return sr
}

// everyValue reports whether vs is non-empty and ok holds for each element.
func everyValue(vs []string, ok func(string) bool) bool {
	if len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		if !ok(v) {
			return false
		}
	}
	return true
}
