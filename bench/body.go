package bench

import (
	"strconv"
	"strings"
)

// Topic is the topic of every event the harness publishes.
const Topic = "bench"

// minDataSize is the size of {"t":<19 digits>,"pad":""}, the smallest data
// object the harness sends.
const minDataSize = len(`{"t":1234567890123456789,"pad":""}`)

// EventData returns an event's data object, {"t":sent,"pad":"xxx…"}, padded
// so that it is size bytes long when sent has 19 digits (any unix-ns time
// between 2001 and 2286); never shorter than minDataSize.
func EventData(sent int64, size int) []byte {
	return appendEventData(nil, sent, padFor(size))
}

func padFor(size int) string {
	return strings.Repeat("x", max(size, minDataSize)-minDataSize)
}

func appendEventData(b []byte, sent int64, pad string) []byte {
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, `,"pad":"`...)
	b = append(b, pad...)
	return append(b, `"}`...)
}

// BatchBody builds a publish body of n events ({"events":[…]}), each with
// data EventData(sent, size).
func BatchBody(n int, sent int64, size int) []byte {
	return batchBuilder{pad: padFor(size)}.append(nil, n, sent)
}

// batchBuilder appends batch bodies with a fixed pad.
type batchBuilder struct{ pad string }

func (bb batchBuilder) append(b []byte, n int, sent int64) []byte {
	b = append(b, `{"events":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"topic":"`+Topic+`","data":`...)
		b = appendEventData(b, sent, bb.pad)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// MaxBody is the largest publish body PROTOCOL.md accepts (413 above):
// transport.MaxPublishBody, copied so that the harness does not link the
// server's transport package (TestEventsPerBody keeps the two equal).
const MaxBody = 1 << 20

// EventsPerBody is the most events of data size bytes one publish body
// holds within MaxBody, at least 1.
func EventsPerBody(size int) int {
	per := len(`{"topic":"`+Topic+`","data":}`) + max(size, minDataSize) + len(",")
	return max((MaxBody-len(`{"events":[]}`))/per, 1)
}

// EventsDue is how many events a publisher at rate events/s should have
// sent elapsedNs after its start, minus sent (never negative), capped at
// maxBatch when maxBatch > 0.
func EventsDue(rate float64, elapsedNs int64, sent int64, maxBatch int) int {
	if rate <= 0 || elapsedNs <= 0 {
		return 0
	}
	due := int64(rate*float64(elapsedNs)/1e9) - sent
	if due <= 0 {
		return 0
	}
	if maxBatch > 0 && due > int64(maxBatch) {
		return maxBatch
	}
	return int(due)
}
