package transport

import (
	"net/http"

	"github.com/gobwas/ws"
	"go.uber.org/zap"
)

// handleStreamHTTP serves GET /v2/realtime/stream when it reached net/http:
// a plain GET (426), or an upgrade that arrived as a later request on a
// keep-alive connection. The checks are those of the raw path; the upgrade
// then hijacks the connection with gobwas/ws's HTTPUpgrader.
func (s *Server) handleStreamHTTP(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header["Upgrade"], "websocket") {
		s.cfg.Metrics.ConnectionsRefused.Add(1)
		s.refuse(w, r, upgradeRequired())
		return
	}
	req := streamRequestFromHTTP(r)
	st, e := s.checkStream(&req)
	if e != nil {
		s.cfg.Metrics.ConnectionsRefused.Add(1)
		s.refuse(w, r, e)
		return
	}
	var neg deflateNegotiator
	up := ws.HTTPUpgrader{Negotiate: neg.negotiate, Timeout: s.cfg.HeaderTimeout}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		s.cfg.Metrics.ConnectionsRefused.Add(1)
		s.log.Info("stream upgrade failed", zap.String("path", redactText(r.URL.Path)),
			zap.String("remote", r.RemoteAddr), zap.Error(err))
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	// Bytes net/http read past the request come first, then whatever is
	// left of the routing prefix, then the socket.
	var buffered []byte
	if n := rw.Reader.Buffered(); n > 0 {
		buffered, _ = rw.Reader.Peek(n)
	}
	st.Deflate = neg.accepted
	s.openStream(withPrefix(unwrapDrained(conn), buffered), st)
}

// headerHasToken reports whether some value of a list header holds tok.
func headerHasToken(values []string, tok string) bool {
	for _, v := range values {
		if hasToken([]byte(v), []byte(tok)) {
			return true
		}
	}
	return false
}
