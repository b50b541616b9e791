package transport

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/orgstream/orgstream/messages"
)

// SSEPath is the Server-Sent Events endpoint of PROTOCOL.md.
const SSEPath = "/v2/realtime/sse"

// The retry field an SSE stream opens with is drawn per connection from
// [sseRetryMin, sseRetryMin+sseRetrySpread): browsers that lost the same
// node at once come back spread over two seconds, not all together.
const (
	sseRetryMin    = time.Second
	sseRetrySpread = 2 * time.Second
)

// handleSSE serves GET /v2/realtime/sse: the checks of the stream (the same
// refusals and bodies; no WebSocket handshake), then it takes the
// connection over from net/http and hands it to Streams, which answers it
// (200 and the stream, or 429/503) and writes the shared SSE forms of the
// frames through the same delivery path as a WebSocket's.
//
// The body is delimited by the connection's close (Connection: close, no
// Content-Length, no chunking): the shared bytes are the SSE messages
// themselves, with no per-connection framing, and every HTTP/1.x client
// (net/http, curl, EventSource) reads such a body to its end.
func (s *Server) handleSSE(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		// The GET pattern also matches HEAD, which must get no body.
		w.Header().Set("Allow", http.MethodGet)
		s.refuse(w, r, newAPIError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed on this route"))
		return
	}
	req := streamRequestFromHTTP(r)
	req.sse = true
	st, e := s.checkStream(&req)
	if e == nil && !st.Resume {
		e = lastEventID(r.Header.Values("Last-Event-ID"), &st)
	}
	if e != nil {
		s.cfg.Metrics.ConnectionsRefused.Add(1)
		s.refuse(w, r, e)
		return
	}
	gz := acceptsGzip(r.Header.Values("Accept-Encoding"))
	st.SSE = &messages.SSEStream{
		Gzip:    gz,
		Head:    sseHead(gz, req.origin, req.hasOrigin),
		Retry:   sseRetryMin + rand.N(sseRetrySpread/time.Millisecond)*time.Millisecond,
		Refusal: s.sseRefusal,
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.log.Warn("sse: take over the connection", zap.Error(err))
		s.refuse(w, r, newAPIError(http.StatusInternalServerError, CodeInternal, "cannot stream on this connection"))
		return
	}
	// The server's deadlines stay on a hijacked connection; the stream's
	// heartbeat and write timeouts take over.
	_ = conn.SetDeadline(time.Time{})
	if n := brw.Reader.Buffered(); n > 0 {
		_, _ = brw.Reader.Discard(n) // a client sends nothing we read
	}
	s.openStream(unwrapDrained(conn), st)
}

// lastEventID applies the Last-Event-ID header ("<epoch>:<seq>", what an
// EventSource sends when it reconnects) to a stream whose query had no
// last_seq: it counts as epoch and last_seq. An empty or absent header is
// no position; a malformed one is a 400 like a bad last_seq.
func lastEventID(values []string, st *Stream) *apiError {
	if len(values) == 0 || values[0] == "" {
		return nil
	}
	if len(values) > 1 {
		return newAPIError(http.StatusBadRequest, CodeInvalidQuery, "more than one Last-Event-ID")
	}
	epoch, seq, ok := parseLastEventID(values[0])
	if !ok {
		return newAPIError(http.StatusBadRequest, CodeInvalidQuery, "Last-Event-ID is not <epoch>:<seq>")
	}
	st.Resume, st.LastSeq, st.Epoch = true, seq, epoch
	return nil
}

// parseLastEventID splits "<epoch>:<seq>" at its last colon: seq as
// last_seq (digits only, fitting a uint64), epoch as the query's epoch (at
// most maxEpochLen bytes, printable ASCII; empty means the current one).
func parseLastEventID(v string) (epoch string, seq uint64, ok bool) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", 0, false
	}
	epoch = v[:i]
	if len(epoch) > maxEpochLen {
		return "", 0, false
	}
	for j := 0; j < len(epoch); j++ {
		if epoch[j] <= ' ' || epoch[j] > '~' {
			return "", 0, false
		}
	}
	seq, ok = parseSeq(v[i+1:])
	return epoch, seq, ok
}

// acceptsGzip reports whether an Accept-Encoding allows gzip: a gzip,
// x-gzip or * coding whose q is not 0 (RFC 9110 §12.5.3). A coding named
// with q=0 is refused even if * allows the rest.
func acceptsGzip(values []string) bool {
	star, gzip := -1, -1 // -1 absent, 0 refused, 1 accepted
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			acc := 1
			if qZero(params) {
				acc = 0
			}
			switch name {
			case "gzip", "x-gzip":
				gzip = acc
			case "*":
				star = acc
			}
		}
	}
	if gzip >= 0 {
		return gzip == 1
	}
	return star == 1
}

// qZero reports whether the parameters of a coding say q=0 (0, 0., 0.0,
// 0.00, 0.000).
func qZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "0" || strings.HasPrefix(v, "0.") && strings.Trim(v[2:], "0") == "" {
			return true
		}
	}
	return false
}

// sseHead is the response head of an accepted SSE stream. An allowed
// Origin (checkStream refused the others) is echoed so that an
// EventSource on another origin may read the stream; the token is in the
// URL, no cookie is involved.
func sseHead(gzip bool, origin string, hasOrigin bool) []byte {
	b := []byte("HTTP/1.1 200 OK\r\n" +
		"Content-Type: text/event-stream\r\n" +
		"Cache-Control: no-cache\r\n" +
		"X-Accel-Buffering: no\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Connection: close\r\n" +
		"Vary: Accept-Encoding, Origin\r\n")
	if gzip {
		b = append(b, "Content-Encoding: gzip\r\n"...)
	}
	if hasOrigin && validHeaderValue(origin) {
		b = append(b, "Access-Control-Allow-Origin: "...)
		b = append(b, origin...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// validHeaderValue reports whether v can be echoed in a header: visible
// ASCII and spaces only.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return false
		}
	}
	return true
}

// sseRefusal is the HTTP response of an SSE stream the hub refuses after
// the checks (429 over a connection limit, 503 draining); the hub logs and
// counts it, as it does a WebSocket's 4029.
func (s *Server) sseRefusal(status int, code, msg string) []byte {
	return appendRawResponse(make([]byte, 0, 256), newAPIError(status, code, msg))
}
