package bench

import (
	"bytes"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// eventTSLayout is the daemon's "ts" layout: RFC 3339 with exactly six
// fractional digits, "Z" for UTC (messages.tsLayout).
const eventTSLayout = "2006-01-02T15:04:05.000000Z07:00"

// EventFrame returns the WebSocket text frame the daemon writes to a
// client for an event of the harness's topic: header and payload
// {"type":"event","seq":…,"topic":"bench","ts":…,"data":…}, laid out as
// messages.EncodeEvent lays it out (TestEventFrameMatchesServer keeps the
// two equal). The floor writes these bytes so that its write(2) is the
// one a delivery makes; the harness builds them itself so as not to link
// the server's packages.
func EventFrame(seq uint64, at time.Time, data []byte) []byte {
	p := make([]byte, 0, len(data)+96)
	p = append(p, `{"type":"event","seq":`...)
	p = strconv.AppendUint(p, seq, 10)
	p = append(p, `,"topic":"`+Topic+`","ts":"`...)
	p = at.UTC().AppendFormat(p, eventTSLayout)
	p = append(p, `","data":`...)
	p = append(p, data...)
	p = append(p, '}')
	var b bytes.Buffer
	b.Grow(ws.MaxHeaderSize + len(p))
	// A bytes.Buffer write cannot fail, and the length is far below 2^63.
	_ = ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(p))})
	b.Write(p)
	return b.Bytes()
}

// floorSeq is the seq in the floor's frame: four digits, as the seqs of a
// fanout run of a few thousand events per org.
const floorSeq = 1000

// FloorFrame is the frame the floor writes for events of size bytes of
// data (EventData, at least minDataSize): the frame of a fanout delivery.
func FloorFrame(size int, at time.Time) []byte {
	return EventFrame(floorSeq, at, EventData(at.UnixNano(), size))
}
