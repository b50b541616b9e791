package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/orgstream/orgstream/messages"
	"github.com/orgstream/orgstream/transport/auth"
)

// Machine codes of the refusals transport itself decides (messages.Error
// codes of publish bodies pass through unchanged).
const (
	CodeNotReady         = "not_ready"
	CodeDraining         = "draining"
	CodeInvalidQuery     = "invalid_query"
	CodeMissingToken     = "missing_token"
	CodeInvalidToken     = "invalid_token"
	CodeTokenExpired     = "token_expired"
	CodeOriginNotAllowed = "origin_not_allowed"
	CodeForbidden        = "forbidden"
	// CodeTopicForbidden: a topics query pattern the token's topics claim
	// does not cover (PROTOCOL.md "Scoped delivery").
	CodeTopicForbidden   = "topic_forbidden"
	CodeUpgradeRequired  = "upgrade_required"
	CodeBadHandshake     = "bad_handshake"
	CodeBadVersion       = "unsupported_websocket_version"
	CodeBadRequest       = "bad_request"
	CodeHeaderTooLarge   = "header_too_large"
	CodeInvalidOrg       = "invalid_org"
	CodeBodyTooLarge     = "body_too_large"
	CodeLogUnavailable   = "log_unavailable"
	CodeOutcomeUnknown   = "outcome_unknown"
	CodePayloadTooLarge  = "payload_too_large"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal_error"
)

// apiError is a refusal: an HTTP status and the JSON body
// {"error":"human message","code":"machine_code"}.
type apiError struct {
	Status  int
	Message string
	Code    string
	// Header holds extra response headers (e.g. Upgrade: websocket on 426).
	Header [][2]string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// body returns the JSON body of e.
func (e *apiError) body() []byte {
	b, _ := json.Marshal(errorBody{Error: e.Message, Code: e.Code})
	return b
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func newAPIError(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

// ErrLogUnavailable is what a Readiness wraps while the log cannot take
// writes (a JetStream leader election, a lost quorum). /readyz then answers
// 503 log_unavailable, but streams are still accepted (they are served from
// memory and the log's replicas) and publishes still reach the Publisher,
// which decides: it may refuse them at once (a Publisher error wrapping
// ErrLogUnavailable, logged at Debug since the node warned already) or
// send them to the log, which acknowledges them or ends in 503.
var ErrLogUnavailable = errors.New("transport: the log cannot take writes")

// notReadyError maps a Readiness error to 503 draining / log_unavailable /
// not_ready.
func notReadyError(err error) *apiError {
	switch {
	case errors.Is(err, ErrDraining):
		return newAPIError(http.StatusServiceUnavailable, CodeDraining, "the node is draining")
	case errors.Is(err, ErrLogUnavailable):
		return newAPIError(http.StatusServiceUnavailable, CodeLogUnavailable, "the log cannot take writes")
	}
	return newAPIError(http.StatusServiceUnavailable, CodeNotReady, "the node is not ready")
}

// servingErr is a Readiness error that refuses new streams and publishes:
// every one but ErrLogUnavailable.
func servingErr(err error) error {
	if errors.Is(err, ErrLogUnavailable) {
		return nil
	}
	return err
}

// tokenError maps an auth.Verifier.Verify error to 401.
func tokenError(err error) *apiError {
	switch {
	case errors.Is(err, auth.ErrMissing):
		return newAPIError(http.StatusUnauthorized, CodeMissingToken, "missing token")
	case errors.Is(err, auth.ErrExpired):
		return newAPIError(http.StatusUnauthorized, CodeTokenExpired, "token expired")
	case errors.Is(err, auth.ErrTopics):
		// The text names the claim's defect (a pattern's position and
		// rule), never its content.
		return newAPIError(http.StatusUnauthorized, CodeInvalidToken,
			"invalid token: "+strings.TrimPrefix(err.Error(), "auth: invalid token: ")+
				fmt.Sprintf(" (topics must be an array of 1 to %d topic patterns)", messages.MaxPatterns))
	default:
		return newAPIError(http.StatusUnauthorized, CodeInvalidToken, "invalid token")
	}
}

// writeHTTPError writes e through net/http.
func writeHTTPError(w http.ResponseWriter, e *apiError) {
	for _, kv := range e.Header {
		w.Header().Set(kv[0], kv[1])
	}
	writeJSON(w, e.Status, e.body())
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendRawResponse appends the HTTP/1.1 response of e, with Connection:
// close, for a connection that net/http never saw.
func appendRawResponse(dst []byte, e *apiError) []byte {
	body := e.body()
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(e.Status)...)
	dst = append(dst, "\r\nContent-Type: application/json\r\nConnection: close\r\nCache-Control: no-store\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	for _, kv := range e.Header {
		if kv[0] == "Connection" {
			continue // this connection closes
		}
		dst = append(dst, kv[0]...)
		dst = append(dst, ": "...)
		dst = append(dst, kv[1]...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}
