// Package metrics holds orgstream's counters and gauges. One Metrics value is
// shared by the actors and the transport; it exports to Prometheus and to the
// JSON document of GET /v2/realtime/metrics. All methods are goroutine-safe.
package metrics

import (
	"sync/atomic"
	"time"
)

// Metrics is the set of figures PROTOCOL.md names. The atomic fields are the
// source of truth; the Prometheus collector reads them at scrape time so the
// hot path pays one atomic add per update.
type Metrics struct {
	Start time.Time

	Connections        atomic.Int64 // open WebSocket streams
	OrgsActive         atomic.Int64 // org actors alive on this node
	NATSSubscriptions  atomic.Int64 // live feeds (one per active org)
	EventsPublished    atomic.Uint64
	EventsDelivered    atomic.Uint64 // frames queued to connections
	Replayed           atomic.Uint64 // events sent as replay on resume
	SlowConsumerCuts   atomic.Uint64 // connections closed with 4008
	ConnectionsRefused atomic.Uint64 // refused before or right after the upgrade
	OrgActorRestarts   atomic.Uint64 // panics recovered by the supervisor
	PublishErrors      atomic.Uint64
	LiveForged         atomic.Uint64 // live messages refused: not a republish of a stored event
	LeaderMoves        atomic.Uint64 // log stream leaders this node handed over to spread them

	// Clients counts open streams by client name and version.
	Clients Clients

	logStreams atomic.Pointer[[]LogStream] // set by the node's log probe
}

// New returns Metrics with Start set to now.
func New() *Metrics { return &Metrics{Start: time.Now()} }
