package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"go.uber.org/zap"
)

// session runs one connection attempt: token, dial, then the read loop
// until the connection ends. It reports the end to OnClose and returns it
// with its error.
func (c *Client) session(ctx context.Context) (ending, error) {
	resume, last, epoch := c.tr.connect()
	if resume {
		c.setState(Resuming)
	} else {
		c.setState(Connecting)
	}
	c.dials.Add(1)

	wc, e, err := c.dial(ctx, resume, last, epoch)
	if err != nil {
		c.ended(0, "", err)
		return e, err
	}
	c.mu.Lock()
	if c.stopping.Load() {
		c.mu.Unlock()
		_ = wc.writeClose(CloseNormal, "")
		wc.release()
		c.ended(CloseNormal, "", nil)
		return e, nil
	}
	c.cur = wc
	c.mu.Unlock()

	code, reason, err := c.readLoop(wc, &e)

	c.mu.Lock()
	c.cur = nil
	c.mu.Unlock()
	wc.release()
	c.ended(code, reason, err)
	return e, err
}

// ended reports the end of a connection attempt; one that Close or the
// end of Run's context interrupted has no error.
func (c *Client) ended(code int, reason string, err error) {
	if c.stopping.Load() {
		err = nil
	}
	c.log.Debug("orgstream client: connection ended", zap.String("host", c.target().Host),
		zap.Int("code", code), zap.String("reason", reason), zap.Error(err))
	if c.cfg.OnClose != nil {
		c.cfg.OnClose(code, reason, err)
	}
}

// dial gets a token and opens the WebSocket.
func (c *Client) dial(ctx context.Context, resume bool, last uint64, epoch string) (*wsConn, ending, error) {
	tok := c.cfg.Token
	if c.cfg.TokenFunc != nil {
		var err error
		if tok, err = c.cfg.TokenFunc(ctx); err != nil {
			return nil, ending{}, fmt.Errorf("client: token: %w", err)
		}
	}
	u := *c.target()
	q := u.Query()
	if resume {
		q.Set("last_seq", strconv.FormatUint(last, 10))
		if epoch != "" {
			q.Set("epoch", epoch)
		} else {
			q.Del("epoch")
		}
	}
	if len(c.cfg.Topics) > 0 {
		q.Set("topics", strings.Join(c.cfg.Topics, ","))
	}
	if c.cfg.Presence {
		q.Set("presence", "true")
	}
	setClientParam(q)
	var refusal HandshakeError
	d := ws.Dialer{
		ReadBufferSize: c.cfg.ReadBufferSize,
		Timeout:        c.cfg.HandshakeTimeout,
		Extensions:     c.offer,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refusal = readRefusal(status, resp)
		},
	}
	if c.cfg.UseHeader {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + tok}})
	} else {
		q.Set("access_token", tok)
	}
	u.RawQuery = q.Encode()
	if c.cfg.Dialer != nil {
		d.NetDial = c.cfg.Dialer.DialContext
	}
	nc, br, hs, err := d.Dial(ctx, u.String())
	if err != nil {
		var st ws.StatusError
		if errors.As(err, &st) {
			e := ending{status: int(st)}
			refusal.Status = int(st)
			refusal.Permanent = decide(e, c.tokenFunc) == actStop
			return nil, e, &refusal
		}
		return nil, ending{}, fmt.Errorf("client: dial: %w", scrub(err))
	}
	deflate := false
	for _, x := range hs.Extensions {
		if string(x.Name) == wsflate.ExtensionName {
			deflate = true
		}
	}
	return newWSConn(nc, br, deflate, &c.cfg), ending{}, nil
}

// scrub keeps the URL, which carries the token, out of a dial error: only
// a *url.Error has it (gobwas/ws's net errors name host:port only).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// readRefusal reads the JSON body {"error","code"} of a refused handshake
// (at most 4 KiB of it).
func readRefusal(status int, resp io.Reader) HandshakeError {
	he := HandshakeError{Status: status}
	r, err := http.ReadResponse(bufio.NewReader(resp), nil)
	if err != nil {
		return he
	}
	defer r.Body.Close()
	var body struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body) == nil {
		he.Code, he.Message = body.Code, body.Error
	}
	return he
}

// readLoop reads and dispatches frames until the connection ends; it
// returns the close code and reason (see Config.OnClose) and the error.
func (c *Client) readLoop(wc *wsConn, e *ending) (int, string, error) {
	var opened time.Time
	for {
		p, err := wc.readMessage()
		if err != nil {
			return c.readEnd(wc, e, err)
		}
		if c.stopping.Load() {
			continue // closing: read until the server's answer, deliver nothing
		}
		if err := decodeFrame(p, &c.frame); err != nil {
			return c.drop(wc, CloseProtocolError, "malformed frame", fmt.Errorf("%w: %w", ErrProtocol, err))
		}
		switch c.frame.kind {
		case kindEvent:
			if err := c.frame.event(&c.ev, &c.topics); err != nil {
				return c.drop(wc, CloseProtocolError, "malformed event", fmt.Errorf("%w: event: %w", ErrProtocol, err))
			}
			v, expected, err := c.tr.event(c.ev.Seq)
			if err != nil {
				return c.drop(wc, CloseProtocolError, "unexpected event", err)
			}
			switch v {
			case deliver, hole:
				if v == hole {
					c.holes.Add(1)
				}
				if c.cfg.OnEvent != nil {
					c.cfg.OnEvent(c.ev)
				}
				c.lastSeq.Store(c.ev.Seq)
				c.events.Add(1)
				e.healthy = true
			case duplicate:
				c.duplicates.Add(1)
			case gap:
				c.gaps.Add(1)
				if c.cfg.OnGap != nil {
					c.cfg.OnGap(expected, c.ev.Seq)
				}
				return c.drop(wc, CloseProtocolError, "seq gap", fmt.Errorf("%w: expected %d, got %d", ErrGap, expected, c.ev.Seq))
			}
			c.ev.Data = nil
		case kindWelcome:
			w, err := c.frame.welcome()
			if err == nil && !supportedProtocol(w.Protocol) {
				e.incompatible = true
				return c.drop(wc, CloseProtocolError, "unsupported protocol",
					fmt.Errorf("%w: the server speaks %q, this client %q", ErrProtocolVersion, w.Protocol, ProtocolVersion))
			}
			if err == nil {
				err = c.tr.welcome(w)
			}
			if err != nil {
				return c.drop(wc, CloseProtocolError, "bad welcome", fmt.Errorf("%w: welcome: %w", ErrProtocol, err))
			}
			c.welcomes.Add(1)
			if w.Resumed && c.tr.resuming {
				c.resumes.Add(1)
			}
			c.publishPosition()
			e.welcomed, opened = true, time.Now()
			c.setState(Open)
			if c.cfg.OnWelcome != nil {
				c.cfg.OnWelcome(w)
			}
		case kindPresence:
			p, err := c.frame.presence()
			if err != nil {
				return c.drop(wc, CloseProtocolError, "bad presence", fmt.Errorf("%w: presence: %w", ErrProtocol, err))
			}
			if c.cfg.OnPresence != nil {
				c.cfg.OnPresence(p)
			}
		case kindReset:
			r, err := c.frame.reset()
			if err == nil {
				err = c.tr.reset(r)
			}
			if err != nil {
				return c.drop(wc, CloseProtocolError, "bad reset", fmt.Errorf("%w: reset: %w", ErrProtocol, err))
			}
			c.resets.Add(1)
			c.publishPosition()
			if c.cfg.OnReset != nil {
				c.cfg.OnReset(r)
			}
		}
		if !e.healthy && e.welcomed && time.Since(opened) >= c.cfg.BackoffMax {
			e.healthy = true
		}
	}
}

// publishPosition copies the tracker's position for Position.
func (c *Client) publishPosition() {
	c.pmu.Lock()
	c.epoch = c.tr.epoch
	c.lastSeq.Store(c.tr.last)
	c.pmu.Unlock()
}

// drop closes the connection from the client's side after err.
func (c *Client) drop(wc *wsConn, code int, reason string, err error) (int, string, error) {
	_ = wc.writeClose(code, reason)
	return code, reason, err
}

// readEnd classifies the error that ended the read loop.
func (c *Client) readEnd(wc *wsConn, e *ending, err error) (int, string, error) {
	var ce *CloseError
	switch {
	case errors.As(err, &ce):
		if c.stopping.Load() {
			return ce.Code, ce.Reason, nil // the answer to our close
		}
		e.code = ce.Code
		return ce.Code, ce.Reason, ce
	case c.stopping.Load():
		return CloseNormal, "", nil // closed by us; the answer did not come
	case errors.Is(err, ErrTooLarge):
		return c.drop(wc, CloseTooBig, "message too large", err)
	case errors.Is(err, ErrProtocol):
		return c.drop(wc, CloseProtocolError, "protocol error", err)
	}
	return CloseAbnormal, "", fmt.Errorf("client: read: %w", err)
}
