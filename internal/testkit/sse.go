package testkit

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// SSEURL builds the Server-Sent Events URL of the node at baseURL
// (http://host:port) with access_token=token (omitted when empty) and the
// extra query values q (may be nil).
func SSEURL(baseURL, token string, q url.Values) string {
	v := url.Values{}
	for k, vs := range q {
		v[k] = append([]string(nil), vs...)
	}
	if token != "" {
		v.Set("access_token", token)
	}
	return baseURL + "/v2/realtime/sse?" + v.Encode()
}

// SSEURL is the node's SSE URL (see SSEURL).
func (n *Node) SSEURL(token string, q url.Values) string { return SSEURL(n.BaseURL(), token, q) }

// SSEMessage is one message of a Server-Sent Events stream as a client reads
// it (the WHATWG event-stream format): the fields of the lines up to an
// empty line. A block of only comments or retry is a message too, so tests
// see pings and the closing comment.
type SSEMessage struct {
	ID, Event, Data string
	HasID           bool
	// Retry is the retry field in ms, -1 when absent.
	Retry    int
	Comments []string
}

// SSEClient reads a stream with nothing but net/http and a line reader.
type SSEClient struct {
	Resp *http.Response
	// Gzip is true when the response was Content-Encoding gzip (the body
	// is read through compress/gzip, which checks the trailer's CRC at the
	// end).
	Gzip bool
	r    *bufio.Reader
	body io.Reader
}

// SSEDialer configures an SSEClient's request.
type SSEDialer struct {
	// Header holds extra request headers (may be nil), e.g. Last-Event-ID
	// or Accept-Encoding: gzip (then the body is gunzipped here, not by
	// net/http).
	Header http.Header
	// RecvBuffer, if not zero, sets the socket's SO_RCVBUF (see
	// RawDialer).
	RecvBuffer int
}

// ErrSSEStatus is returned by Dial for a response other than 200; the
// response (body unread) comes with it.
var ErrSSEStatus = errors.New("testkit: sse: status not 200")

// Dial GETs u and returns the stream once the response head came. ctx
// bounds the whole stream.
func (d SSEDialer) Dial(ctx context.Context, u string) (*SSEClient, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range d.Header {
		req.Header[k] = vs
	}
	nd := &net.Dialer{}
	if d.RecvBuffer > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, d.RecvBuffer)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	tr := &http.Transport{DialContext: nd.DialContext, DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	c := &SSEClient{Resp: resp, body: resp.Body}
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("%w: %d", ErrSSEStatus, resp.StatusCode)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("testkit: sse: gzip header: %w", err)
		}
		zr.Multistream(false)
		c.Gzip, c.body = true, zr
	}
	c.r = bufio.NewReader(c.body)
	return c, nil
}

// DialSSE is SSEDialer{Header: header}.Dial.
func DialSSE(ctx context.Context, u string, header http.Header) (*SSEClient, error) {
	return SSEDialer{Header: header}.Dial(ctx, u)
}

// Close ends the stream.
func (c *SSEClient) Close() { _ = c.Resp.Body.Close() }

// Next reads the next message. At the body's end it returns io.EOF (a
// gzip body's trailer checked: a wrong CRC or length is an error).
func (c *SSEClient) Next() (SSEMessage, error) {
	m := SSEMessage{Retry: -1}
	var data []string
	started := false
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && (started || line != "") {
				return m, io.ErrUnexpectedEOF
			}
			return m, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if !started {
				continue
			}
			m.Data = strings.Join(data, "\n")
			return m, nil
		}
		started = true
		if strings.HasPrefix(line, ":") {
			m.Comments = append(m.Comments, strings.TrimPrefix(line[1:], " "))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			m.ID, m.HasID = value, true
		case "event":
			m.Event = value
		case "data":
			data = append(data, value)
		case "retry":
			if n, err := strconv.Atoi(value); err == nil {
				m.Retry = n
			}
		}
	}
}

// NextFrame reads messages until one with data, skipping comments and
// retry, and decodes its data as a frame.
func (c *SSEClient) NextFrame() (SSEMessage, Frame, error) {
	for {
		m, err := c.Next()
		if err != nil {
			return m, Frame{}, err
		}
		if m.Event == "" && m.Data == "" {
			continue
		}
		f, err := DecodeFrame([]byte(m.Data))
		return m, f, err
	}
}

// ReadToEnd reads messages until the body ends and returns them; err is
// nil when the body ended cleanly (io.EOF).
func (c *SSEClient) ReadToEnd() ([]SSEMessage, error) {
	var ms []SSEMessage
	for {
		m, err := c.Next()
		if errors.Is(err, io.EOF) {
			return ms, nil
		}
		if err != nil {
			return ms, err
		}
		ms = append(ms, m)
	}
}
