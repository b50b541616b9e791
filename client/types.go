package client

import (
	"encoding/json"
	"strconv"
	"time"
)

// State is where a Client is in its life; OnState reports each change.
type State int

// The states of a Client. A Client starts in Connecting and ends in Closed.
const (
	// Connecting: dialing without a position (the first connection of a
	// client that does not resume), or waiting to.
	Connecting State = iota
	// Open: the welcome arrived; events flow.
	Open
	// Resuming: dialing with last_seq and epoch (or backing off before
	// that).
	Resuming
	// Closed: Run has returned.
	Closed
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Open:
		return "open"
	case Resuming:
		return "resuming"
	case Closed:
		return "closed"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Welcome is the first frame of every connection.
type Welcome struct {
	ConnID, Org, User string
	// Epoch names the generation of the org's log.
	Epoch string
	// Head is the org's newest seq when the connection opened.
	Head uint64
	// Resumed is true when the server continues after the client's
	// last_seq; ReplayFrom..ReplayTo are then replayed before live events
	// (an empty replay has ReplayFrom > ReplayTo).
	Resumed              bool
	ReplayFrom, ReplayTo uint64
	// Scoped is true when the stream has a topic scope (the token's
	// topics claim or Config.Topics): its seqs have holes, the events it
	// may not see.
	Scoped bool
	// Protocol is the version of the wire contract the server speaks
	// ("2"; empty from a server older than the field). A version this
	// client does not speak ends Run with ErrProtocolVersion.
	Protocol string
}

// Presence is a user's first stream opening (PresenceOnline) or last
// stream closing (PresenceOffline) anywhere in the cluster, for a
// connection opened with Config.Presence. It has no seq and is never
// replayed: after a reconnect, read the current set with the presence
// route instead.
type Presence struct {
	User  string
	State string
}

// Presence states.
const (
	PresenceOnline  = "online"
	PresenceOffline = "offline"
)

// Event is one event of the org.
type Event struct {
	// Seq is the org's sequence number.
	Seq   uint64
	Topic string
	// ID is the publisher's idempotency key, empty when it gave none.
	ID string
	// TS is when orgstream accepted the event (UTC).
	TS time.Time
	// Data is the publisher's JSON, byte for byte, as the server sent it
	// (the client does not validate it). It points into the connection's
	// read buffer: it is valid only until the OnEvent call returns; copy
	// it (bytes.Clone) to keep it.
	Data json.RawMessage
}

// Reset tells that the client's position could not be served: the events
// after it up to Head are not delivered (fetch them from your own backend
// if you need them). Reason is "window_exceeded", "epoch_changed" or
// "invalid_position"; First is the oldest seq still retained.
type Reset struct {
	Reason      string
	First, Head uint64
}

// Stats are a Client's counters since New.
type Stats struct {
	// Events is the number of events delivered to OnEvent.
	Events uint64
	// Duplicates is the number of events dropped because their seq was not
	// after the last delivered one.
	Duplicates uint64
	// Gaps is the number of holes the client could not take as
	// legitimate at once (each also reported to OnGap): each was checked
	// by a resume.
	Gaps uint64
	// Holes is the number of holes delivered across: the events between
	// were not the stream's to see (a topic scope, an event for other
	// users), as the welcome's Scoped, a resume or Config.TrustHoles said.
	Holes uint64
	// Dials is the number of connection attempts; Reconnects is Dials
	// minus the first.
	Dials, Reconnects uint64
	// Welcomes is the number of welcomes received; Resumes counts those
	// with resumed:true.
	Welcomes, Resumes uint64
	// Resets is the number of reset frames received.
	Resets uint64
}
