package messages

// History limits (PROTOCOL.md "History over HTTP"; docs/PROTOCOL.md).
const (
	// DefaultHistoryLimit is the events a history page holds when the
	// request names no limit; MaxHistoryLimit the most it may ask for.
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
	// MaxHistoryScan bounds the seqs one history request examines: a
	// scope that allows few events must not make one request read the
	// whole log. The page's Last tells where the scan stopped.
	MaxHistoryScan = 10000
)

// HistoryPage is one answer of the history endpoint.
type HistoryPage struct {
	Epoch string
	// Head is the org's newest seq, First its oldest retained one (Head+1
	// when none is).
	Head, First uint64
	// Last is the seq the scan went through: the next page is after=Last.
	// Last == Head means the reader is caught up.
	Last uint64
	// Expired is true when the requested position is older than First-1
	// (410 window_exceeded); nothing else but Epoch, Head and First is set.
	Expired bool
	// Frames are the event frames the scope allows, in seq order; the
	// answer holds each one's object without "type" (AppendEventObject).
	Frames []*Frame
}

// eventPrefix is how every event frame's payload starts (EncodeEvent).
const eventPrefix = `{"type":"event",`

// AppendEventObject appends the event frame f's JSON object without its
// "type" member, e.g. {"seq":1,"topic":…,"ts":…,"data":…}, reusing the
// encoded frame (its payload after the WebSocket header and "type"): no
// event is encoded again. ok is false when f is not an event frame.
func AppendEventObject(dst []byte, f *Frame) (out []byte, ok bool) {
	p := serverPayload(f.Plain)
	if len(p) < len(eventPrefix) || string(p[:len(eventPrefix)]) != eventPrefix {
		return dst, false
	}
	dst = append(dst, '{')
	return append(dst, p[len(eventPrefix):]...), true
}

// serverPayload returns the payload of an unmasked server frame.
func serverPayload(b []byte) []byte {
	if len(b) < 2 {
		return nil
	}
	switch n := b[1] & 0x7f; {
	case n < 126:
		return b[2:]
	case n == 126:
		return b[4:]
	default:
		return b[10:]
	}
}
