package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/zap"
)

// StreamPath is the WebSocket endpoint of PROTOCOL.md.
const StreamPath = "/v2/realtime/stream"

// lingerTimeout bounds how long a refused connection is drained after the
// response, so that closing it does not reset the response away (a close
// with unread input sends RST).
const lingerTimeout = 500 * time.Millisecond

// serveConn routes one accepted connection: it peeks the request head, serves
// a stream upgrade itself and hands everything else to net/http.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	_ = c.SetDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	hb := newHeadBuf()
	defer hb.release()

	if err := hb.readHead(c); err != nil {
		if errors.Is(err, errHeadTooLarge) {
			s.refuseRaw(c, newAPIError(http.StatusRequestHeaderFieldsTooLarge, CodeHeaderTooLarge,
				"request head over 8 KiB"), nil)
			return
		}
		// Silent peer, reset, or timeout: nothing to answer.
		s.untrack(c)
		_ = c.Close()
		return
	}
	head, err := parseRequestHead(hb.head())
	if err != nil {
		s.refuseRaw(c, newAPIError(http.StatusBadRequest, CodeBadRequest, "malformed request"), nil)
		return
	}
	if isStreamUpgrade(&head) {
		s.serveStream(c, hb, &head)
		return
	}
	conn := withPrefix(c, hb.buffered())
	hb.release()
	if !s.untrack(c) {
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{}) // net/http sets its own
	s.httpLn.deliver(conn)
}

// isStreamUpgrade reports whether the raw path serves h: a GET of StreamPath
// with an Upgrade header naming websocket. Everything else (a plain GET of
// the stream included, answered 426) goes to net/http.
func isStreamUpgrade(h *requestHead) bool {
	return string(h.method) == http.MethodGet && string(h.path()) == StreamPath && h.upgradeWebSocket
}

// serveStream checks a stream request, refuses it with a JSON response or
// upgrades it with gobwas/ws on the raw conn and hands it to Streams.
func (s *Server) serveStream(c net.Conn, hb *headBuf, head *requestHead) {
	req := streamRequestFromHead(head, c.RemoteAddr().String())
	st, e := s.checkStream(&req)
	if e != nil {
		s.cfg.Metrics.ConnectionsRefused.Add(1)
		s.refuseRaw(c, e, head)
		return
	}

	var neg deflateNegotiator
	up := ws.Upgrader{Negotiate: neg.negotiate}
	// gobwas reads the head through its own pooled buffer. It gets exactly
	// the head: it stops at the empty line, so it never needs more, and the
	// bytes behind the head stay ours to pass on.
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(hb.head()), c}
	if _, err := up.Upgrade(rw); err != nil {
		s.cfg.Metrics.ConnectionsRefused.Add(1)
		s.log.Info("stream upgrade failed", append(requestFields(head, c), zap.Error(err))...)
		s.untrack(c)
		_ = c.Close()
		return
	}
	conn := withPrefix(c, hb.leftover())
	hb.release()
	if !s.untrack(c) {
		_ = ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "draining")))
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	st.Deflate = neg.accepted
	s.openStream(conn, st)
}

func (s *Server) openStream(conn net.Conn, st Stream) {
	if ce := s.log.Check(zap.DebugLevel, "stream opened"); ce != nil {
		_, raw := conn.(*net.TCPConn)
		ce.Write(zap.String("org", st.Org), zap.String("user", st.User),
			zap.String("remote", st.RemoteAddr), zap.Bool("deflate", st.Deflate),
			zap.Bool("resume", st.Resume), zap.Bool("raw_conn", raw))
	}
	s.cfg.Streams.Open(conn, st)
}

// refuseRaw answers a connection net/http never saw with e and closes it.
// head may be nil when the request could not be parsed.
// c stays tracked until closed, so that Shutdown cuts the linger short.
func (s *Server) refuseRaw(c net.Conn, e *apiError, head *requestHead) {
	_, _ = c.Write(appendRawResponse(make([]byte, 0, 256), e))
	s.logRefusal(e, requestFields(head, c))
	s.lingerClose(c)
	s.untrack(c)
}

// lingerClose half-closes c, drains what the peer still sends for a moment,
// then closes it.
func (s *Server) lingerClose(c net.Conn) {
	defer c.Close()
	tc, ok := c.(*net.TCPConn)
	if !ok || s.closing() {
		return
	}
	if tc.CloseWrite() != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.CopyN(io.Discard, c, 64<<10)
}

// requestFields are the log fields of a raw request: never the query, never
// a header that could carry a token.
func requestFields(head *requestHead, c net.Conn) []zap.Field {
	f := []zap.Field{zap.String("remote", c.RemoteAddr().String())}
	if head != nil {
		f = append(f,
			zap.ByteString("method", head.method),
			zap.String("path", redactText(string(head.path()))),
			zap.ByteString("user_agent", head.userAgent))
	}
	return f
}
