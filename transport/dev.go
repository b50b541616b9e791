package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

// Routes of the console and of development mode.
const (
	// ConsoleConfigPath answers {"dev":bool}: whether the console may offer
	// to mint tokens.
	ConsoleConfigPath = "/v2/console/config"
	// DevTokensPath mints tokens; registered only with Config.Dev.
	DevTokensPath = "/v2/dev/tokens"
)

// Limits of POST /v2/dev/tokens.
const (
	// DefaultDevTokenTTL is the lifetime of a dev token whose request names
	// no ttl.
	DefaultDevTokenTTL = time.Hour
	// MaxDevTokenTTL is the longest ttl a dev token may ask for.
	MaxDevTokenTTL = 24 * time.Hour
	// MaxDevTokenSub is the longest sub (in bytes) of a dev token.
	MaxDevTokenSub = 128
	// maxDevTokenBody bounds the request body.
	maxDevTokenBody = 4 << 10
)

// Codes of POST /v2/dev/tokens refusals (besides invalid_org, bad_request
// and body_too_large).
const (
	CodeInvalidSub           = "invalid_sub"
	CodeInvalidScope         = "invalid_scope"
	CodeInvalidTTL           = "invalid_ttl"
	CodeInvalidTopics        = "invalid_topics"
	CodeUnsupportedMediaType = "unsupported_media_type"
)

// devTokenRequest is the body of POST /v2/dev/tokens.
type devTokenRequest struct {
	Org   string `json:"org"`
	Sub   string `json:"sub"`
	Scope string `json:"scope"` // "subscribe" (when empty) or "publish"
	TTL   string `json:"ttl"`   // a Go duration, "1h" when empty
	// Topics is the optional topics claim (1 to messages.MaxPatterns
	// patterns); absent or null means every topic.
	Topics []string `json:"topics"`
}

type devTokenAnswer struct {
	Token string `json:"token"`
	Exp   int64  `json:"exp"`
}

// handleConsoleConfig serves GET /v2/console/config.
func (s *Server) handleConsoleConfig(w http.ResponseWriter, _ *http.Request) {
	b, _ := json.Marshal(struct {
		Dev bool `json:"dev"`
	}{s.cfg.Dev})
	writeJSON(w, http.StatusOK, b)
}

// handleDevToken serves POST /v2/dev/tokens (Config.Dev only): a JSON body
// {"org","sub","scope","ttl"} is answered 201 {"token","exp"} with a token
// signed by Config.Verifier (HS256, with its issuer and audience). Requiring Content-Type application/json makes
// a cross-site form post impossible (a browser preflights it, and no CORS
// header is ever sent).
func (s *Server) handleDevToken(w http.ResponseWriter, r *http.Request) {
	if !loopbackHost(r.Host) {
		s.refuse(w, r, newAPIError(http.StatusForbidden, CodeForbidden,
			"dev tokens are minted only for requests to a loopback host (localhost, 127.0.0.1, ::1)"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.refuse(w, r, newAPIError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"the body must be Content-Type: application/json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDevTokenBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(w, r, newAPIError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "body over 4 KiB"))
			return
		}
		s.refuse(w, r, newAPIError(http.StatusBadRequest, CodeBadRequest, "could not read the body"))
		return
	}
	req, ttl, e := parseDevTokenRequest(body)
	if e != nil {
		s.refuse(w, r, e)
		return
	}
	now := s.cfg.Now()
	tok, err := s.cfg.Verifier.Issue(auth.Claims{
		Sub: req.Sub, Org: req.Org, Scope: req.Scope, Exp: now.Add(ttl), IssuedAt: now, Topics: req.Topics,
	})
	if err != nil {
		s.log.Error("dev token not signed", zap.Error(err))
		s.refuse(w, r, newAPIError(http.StatusInternalServerError, CodeInternal, "internal error"))
		return
	}
	s.log.Info("dev token minted", zap.String("org", req.Org), zap.String("sub", req.Sub),
		zap.String("scope", req.Scope), zap.Duration("ttl", ttl), zap.String("remote", r.RemoteAddr))
	b, _ := json.Marshal(devTokenAnswer{Token: tok, Exp: now.Add(ttl).Unix()})
	writeJSON(w, http.StatusCreated, b)
}

// parseDevTokenRequest decodes and checks a dev token request: one JSON
// object, no unknown member, org as PROTOCOL.md (no "*"), sub non-empty,
// printable and at most MaxDevTokenSub bytes, scope subscribe or publish,
// ttl a positive duration up to MaxDevTokenTTL.
func parseDevTokenRequest(body []byte) (devTokenRequest, time.Duration, *apiError) {
	var req devTokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, 0, newAPIError(http.StatusBadRequest, CodeBadRequest,
			`want {"org":…,"sub":…,"scope":"subscribe"|"publish","ttl":"1h","topics":["orders.*"]}`)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, 0, newAPIError(http.StatusBadRequest, CodeBadRequest, "one JSON object expected")
	}
	switch {
	case !messages.ValidOrg(req.Org):
		return req, 0, newAPIError(http.StatusBadRequest, CodeInvalidOrg, "org must match ^[A-Za-z0-9_-]{1,64}$")
	case !validDevSub(req.Sub):
		return req, 0, newAPIError(http.StatusBadRequest, CodeInvalidSub, "sub must be 1 to 128 bytes of printable UTF-8")
	}
	switch req.Scope {
	case "":
		req.Scope = auth.ScopeSubscribe
	case auth.ScopeSubscribe, auth.ScopePublish:
	default:
		return req, 0, newAPIError(http.StatusBadRequest, CodeInvalidScope, `scope must be "subscribe" or "publish"`)
	}
	if req.Topics != nil {
		if err := messages.ParsePatterns(req.Topics); err != nil {
			return req, 0, newAPIError(http.StatusBadRequest, CodeInvalidTopics,
				fmt.Sprintf("topics must be an array of 1 to %d topic patterns (%s)",
					messages.MaxPatterns, strings.ReplaceAll(err.Error(), "messages: ", "")))
		}
	}
	ttl := DefaultDevTokenTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > MaxDevTokenTTL {
			return req, 0, newAPIError(http.StatusBadRequest, CodeInvalidTTL,
				"ttl must be a duration such as 90s or 1h, positive and at most 24h")
		}
		ttl = d
	}
	return req, ttl, nil
}

// loopbackHost reports whether a request's Host names this machine's
// loopback: a page on another site that made its own name resolve to
// 127.0.0.1 (DNS rebinding) still sends its own name, and is refused.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validDevSub(s string) bool {
	if s == "" || len(s) > MaxDevTokenSub || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
