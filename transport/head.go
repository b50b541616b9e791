package transport

import (
	"bytes"
	"errors"
	"net"
	"sync"
)

// Sizes of the request-head peek: most heads fit the first buffer; a head up
// to maxHeadSize moves to a larger one; past it the request gets 431.
const (
	headBufSize = 4 << 10
	maxHeadSize = 8 << 10
)

var (
	errHeadTooLarge  = errors.New("transport: request head too large")
	errMalformedHead = errors.New("transport: malformed request head")
)

// headBuf holds the bytes read from a new connection before it is routed:
// the request head (b[:end]) and whatever followed it in the same reads
// (b[end:n]). Its buffer comes from a pool and goes back in release.
//
// It plays the role of a bufio.Reader's Peek, with a growth step bufio lacks:
// 4 KiB first, 8 KiB only for the rare long head.
type headBuf struct {
	b   []byte
	n   int
	end int
}

var (
	smallHeadPool = sync.Pool{New: func() any { b := make([]byte, headBufSize); return &b }}
	largeHeadPool = sync.Pool{New: func() any { b := make([]byte, maxHeadSize); return &b }}
)

func newHeadBuf() *headBuf {
	return &headBuf{b: *smallHeadPool.Get().(*[]byte)}
}

// release returns the buffer to its pool; hb must not be used afterwards.
func (hb *headBuf) release() {
	if hb.b == nil {
		return
	}
	b := hb.b[:cap(hb.b)]
	switch cap(b) {
	case headBufSize:
		smallHeadPool.Put(&b)
	case maxHeadSize:
		largeHeadPool.Put(&b)
	}
	hb.b, hb.n, hb.end = nil, 0, 0
}

func (hb *headBuf) head() []byte     { return hb.b[:hb.end] }
func (hb *headBuf) buffered() []byte { return hb.b[:hb.n] }
func (hb *headBuf) leftover() []byte { return hb.b[hb.end:hb.n] }

// readHead reads from conn until the buffer holds a complete request head
// (through the empty line). It returns errHeadTooLarge past maxHeadSize, or
// the read error (a timeout when the conn's deadline passes).
func (hb *headBuf) readHead(conn net.Conn) error {
	scanned := 0
	for {
		if end := headEnd(hb.b[:hb.n], scanned); end >= 0 {
			hb.end = end
			return nil
		}
		// A terminator may straddle reads: rescan the last 3 bytes.
		scanned = max(0, hb.n-3)
		if hb.n == len(hb.b) {
			if len(hb.b) >= maxHeadSize {
				return errHeadTooLarge
			}
			large := *largeHeadPool.Get().(*[]byte)
			copy(large, hb.b[:hb.n])
			small := hb.b
			smallHeadPool.Put(&small)
			hb.b = large
		}
		m, err := conn.Read(hb.b[hb.n:])
		hb.n += m
		if err != nil {
			if end := headEnd(hb.b[:hb.n], scanned); end >= 0 {
				hb.end = end
				return nil
			}
			return err
		}
	}
}

// headEnd returns the index just past the empty line that ends a request head
// in b ("\r\n\r\n", or a bare "\n\n" / "\n\r\n" as net/http tolerates), or -1.
// Leading empty lines before the request line (RFC 9112 §2.2) are skipped.
// The search for the terminator starts at from.
func headEnd(b []byte, from int) int {
	start := skipLeadingCRLF(b)
	from = max(from, start)
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return -1
		}
		i += from
		if i == start {
			// A line feed right at the start is not an empty line after
			// header lines.
			from = i + 1
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
		from = i + 1
	}
}

func skipLeadingCRLF(b []byte) int {
	i := 0
	for i < len(b) {
		switch {
		case b[i] == '\n':
			i++
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// requestHead is a parsed request head. Its byte slices point into the buffer
// that was parsed and are valid only while that buffer is.
//
// Only the headers the stream path needs are recorded; every header line is
// checked for syntax. Where a header may repeat, the first value is kept and
// the facts that must hold for every occurrence are accumulated (as gobwas/ws
// checks each occurrence).
type requestHead struct {
	method []byte
	target []byte // request-target as sent: path and query
	major  int
	minor  int
	// headers is the header section: zero or more lines, each ending in LF.
	headers []byte

	hostCount     int
	origin        []byte
	originCount   int
	authorization []byte
	authCount     int
	userAgent     []byte

	upgradeCount     int
	upgradeWebSocket bool // some Upgrade header names websocket
	upgradeExact     bool // every Upgrade header is exactly "websocket"

	connectionCount   int
	connectionUpgrade bool // every Connection header has the upgrade token

	wsKeyCount     int
	wsKeyBad       bool // some Sec-WebSocket-Key is not 24 bytes
	wsVersionCount int
	wsVersionBad   bool // some Sec-WebSocket-Version is not 13
}

// path returns the request-target up to '?'.
func (h *requestHead) path() []byte {
	if i := bytes.IndexByte(h.target, '?'); i >= 0 {
		return h.target[:i]
	}
	return h.target
}

// rawQuery returns the request-target after '?' (empty when none).
func (h *requestHead) rawQuery() []byte {
	if i := bytes.IndexByte(h.target, '?'); i >= 0 {
		return h.target[i+1:]
	}
	return nil
}

// eachHeader calls fn for every header line in order until fn returns false.
// The head must have been parsed successfully.
func (h *requestHead) eachHeader(fn func(name, value []byte) bool) {
	rest := h.headers
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := trimCR(rest[:i])
		rest = rest[i+1:]
		colon := bytes.IndexByte(line, ':')
		if !fn(line[:colon], trimOWS(line[colon+1:])) {
			return
		}
	}
}

// parseRequestHead parses a request head ending in an empty line (as found by
// headEnd): "METHOD SP target SP HTTP/d.d" then "Name: value" lines. It
// allocates nothing; the result's slices alias b.
func parseRequestHead(b []byte) (requestHead, error) {
	var h requestHead
	b = b[skipLeadingCRLF(b):]
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return h, errMalformedHead
	}
	if !h.parseRequestLine(trimCR(b[:i])) {
		return h, errMalformedHead
	}
	rest := b[i+1:]
	h.headers = rest
	h.upgradeExact = true
	h.connectionUpgrade = true
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return h, errMalformedHead // no empty line
		}
		line := trimCR(rest[:i])
		if len(line) == 0 {
			h.headers = h.headers[:len(h.headers)-len(rest)]
			return h, nil
		}
		rest = rest[i+1:]
		if !h.parseHeaderLine(line) {
			return h, errMalformedHead
		}
	}
}

func (h *requestHead) parseRequestLine(line []byte) bool {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return false
	}
	h.method = line[:sp1]
	for _, c := range h.method {
		if !isTokenChar(c) {
			return false
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return false
	}
	h.target = rest[:sp2]
	for _, c := range h.target {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	var ok bool
	h.major, h.minor, ok = parseHTTPVersion(rest[sp2+1:])
	return ok
}

// parseHTTPVersion parses "HTTP/d.d".
func parseHTTPVersion(v []byte) (major, minor int, ok bool) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' {
		return 0, 0, false
	}
	if !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

func (h *requestHead) parseHeaderLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false // no name, or a folded continuation line
	}
	name := line[:colon]
	for _, c := range name {
		if !isTokenChar(c) {
			return false // whitespace before the colon included (RFC 9112 §5.1)
		}
	}
	value := trimOWS(line[colon+1:])
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	h.record(name, value)
	return true
}

func (h *requestHead) record(name, value []byte) {
	switch {
	case bytes.EqualFold(name, hdrHost):
		h.hostCount++
	case bytes.EqualFold(name, hdrOrigin):
		if h.originCount == 0 {
			h.origin = value
		}
		h.originCount++
	case bytes.EqualFold(name, hdrAuthorization):
		if h.authCount == 0 {
			h.authorization = value
		}
		h.authCount++
	case bytes.EqualFold(name, hdrUserAgent):
		if h.userAgent == nil {
			h.userAgent = value
		}
	case bytes.EqualFold(name, hdrUpgrade):
		h.upgradeCount++
		if hasToken(value, tokWebSocket) {
			h.upgradeWebSocket = true
		}
		if !bytes.EqualFold(value, tokWebSocket) {
			h.upgradeExact = false
		}
	case bytes.EqualFold(name, hdrConnection):
		h.connectionCount++
		if !hasToken(value, tokUpgrade) {
			h.connectionUpgrade = false
		}
	case bytes.EqualFold(name, hdrSecWebSocketKey):
		h.wsKeyCount++
		if len(value) != 24 {
			h.wsKeyBad = true
		}
	case bytes.EqualFold(name, hdrSecWebSocketVersion):
		h.wsVersionCount++
		if string(value) != "13" {
			h.wsVersionBad = true
		}
	}
}

var (
	hdrHost                   = []byte("Host")
	hdrOrigin                 = []byte("Origin")
	hdrAuthorization          = []byte("Authorization")
	hdrUserAgent              = []byte("User-Agent")
	hdrUpgrade                = []byte("Upgrade")
	hdrConnection             = []byte("Connection")
	hdrSecWebSocketKey        = []byte("Sec-WebSocket-Key")
	hdrSecWebSocketVersion    = []byte("Sec-WebSocket-Version")
	hdrSecWebSocketExtensions = []byte("Sec-WebSocket-Extensions")
	tokWebSocket              = []byte("websocket")
	tokUpgrade                = []byte("upgrade")
)

// hasToken reports whether the comma-separated list v holds tok
// (case-insensitive, optional whitespace around elements).
func hasToken(v, tok []byte) bool {
	for len(v) > 0 {
		var elem []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			elem, v = v, nil
		}
		if bytes.EqualFold(trimOWS(elem), tok) {
			return true
		}
	}
	return false
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTokenChar reports whether c is a tchar of RFC 9110 §5.6.2.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
