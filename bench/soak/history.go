package soak

import (
	"sync"
	"time"
)

// Attempt is the answer one publish attempt got for one event: a seq (an
// acknowledgement, 201 or 200) or an error (Err set, Seq zero).
type Attempt struct {
	Org  string    `json:"org"`
	ID   string    `json:"id"`
	Data string    `json:"data"` // the exact JSON sent as data
	Seq  uint64    `json:"seq,omitempty"`
	Err  string    `json:"err,omitempty"`
	At   time.Time `json:"at"`
	Node string    `json:"node"`
}

// Delivery is one event frame a subscriber received.
type Delivery struct {
	Seq  uint64 `json:"seq"`
	ID   string `json:"id"`
	Data string `json:"data"`
}

// SubscriberLog is everything one subscriber received, in order.
type SubscriberLog struct {
	Name string `json:"name"`
	Org  string `json:"org"`
	// Stayed is false for a subscriber that left its org's sequence (a reset
	// moved it to the live head): the exactly-once checks skip it, and
	// Resets says why.
	Stayed     bool       `json:"stayed"`
	Resets     []string   `json:"resets,omitempty"`
	Deliveries []Delivery `json:"-"`
	// Dials counts the connections it tried to open (a dial to a down node
	// fails at once and is retried on another within 20–120 ms).
	Dials int `json:"dials"`
	// Ends counts why its sessions ended: "hop" (its own choice), "idle"
	// (no frame for the idle time: a paused node), "dial" (refused or
	// timed out), "welcome", or the server's close ("1001 no pong" is the
	// heartbeat cutting a client of a node that was paused).
	Ends map[string]int `json:"ends"`
}

// History is what a campaign observed: every publish attempt and every
// delivery. The checker reads nothing else. Record is safe for concurrent
// use; the checker runs once recording is over.
type History struct {
	mu          sync.Mutex
	Attempts    []Attempt
	Subscribers []*SubscriberLog
}

// Record appends publish attempts.
func (h *History) Record(as ...Attempt) {
	h.mu.Lock()
	h.Attempts = append(h.Attempts, as...)
	h.mu.Unlock()
}

// AckTimes returns the times of every acknowledged attempt, in order of
// recording (not sorted).
func (h *History) AckTimes() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, a := range h.Attempts {
		if a.Err == "" {
			out = append(out, a.At)
		}
	}
	return out
}

// maxAcked returns the highest acknowledged seq of every org.
func (h *History) maxAcked() map[string]uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]uint64{}
	for _, a := range h.Attempts {
		if a.Err == "" && a.Seq > out[a.Org] {
			out[a.Org] = a.Seq
		}
	}
	return out
}
