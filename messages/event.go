package messages

import (
	"encoding/json"
	"time"
)

// Draft is an event as a publisher sent it, before the log gave it a seq.
type Draft struct {
	// Topic is the event's label, valid per ValidTopic.
	Topic string
	// ID is the optional idempotency key: a second publish with the same ID
	// within the dedup window returns the first seq and stores nothing.
	ID string
	// Data is the publisher's JSON, byte for byte.
	Data json.RawMessage
	// To names the only users whose streams receive the event (1 to
	// MaxTo user ids, see ParsePublish); nil means every user of the org.
	To []string
}

// Event is a stored event: a Draft with its org seq and acceptance time.
type Event struct {
	// Seq is the org's sequence number: 1, 2, 3, … with no holes.
	Seq   uint64
	Topic string
	ID    string
	// Time is when orgstream accepted the event (UTC).
	Time time.Time
	Data json.RawMessage
	// To is the Draft's: nil means every user of the org. It is stored
	// with the event but never sent in its frame.
	To []string
}
