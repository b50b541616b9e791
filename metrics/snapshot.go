package metrics

import "time"

// Snapshot is a point-in-time copy of Metrics, shaped as the JSON document of
// GET /v2/realtime/metrics (PROTOCOL.md names the first eight keys, and
// "log" in its v2 additions).
type Snapshot struct {
	Connections                  int64   `json:"connections"`
	OrgsActive                   int64   `json:"orgs_active"`
	NATSSubscriptions            int64   `json:"nats_subscriptions"`
	EventsPublishedTotal         uint64  `json:"events_published_total"`
	EventsDeliveredTotal         uint64  `json:"events_delivered_total"`
	ReplayedTotal                uint64  `json:"replayed_total"`
	SlowConsumerDisconnectsTotal uint64  `json:"slow_consumer_disconnects_total"`
	UptimeSeconds                float64 `json:"uptime_s"`
	ConnectionsRefusedTotal      uint64  `json:"connections_refused_total"`
	OrgActorRestartsTotal        uint64  `json:"org_actor_restarts_total"`
	PublishErrorsTotal           uint64  `json:"publish_errors_total"`
	LiveForgedTotal              uint64  `json:"live_forged_total"`
	// Clients counts open streams by client name and version ("unknown":
	// no client query parameter; "other": past the bound of names).
	Clients map[string]int64 `json:"clients"`
	// Log names the node leading each stream of the log (PROTOCOL.md v2).
	Log LogSnapshot `json:"log"`
}

// Snapshot reads every figure once (each atomically, not all at one instant).
// now is the clock used for the uptime; a zero m.Start counts as now.
func (m *Metrics) Snapshot(now time.Time) Snapshot {
	return Snapshot{
		Connections:                  m.Connections.Load(),
		OrgsActive:                   m.OrgsActive.Load(),
		NATSSubscriptions:            m.NATSSubscriptions.Load(),
		EventsPublishedTotal:         m.EventsPublished.Load(),
		EventsDeliveredTotal:         m.EventsDelivered.Load(),
		ReplayedTotal:                m.Replayed.Load(),
		SlowConsumerDisconnectsTotal: m.SlowConsumerCuts.Load(),
		UptimeSeconds:                m.uptime(now).Seconds(),
		ConnectionsRefusedTotal:      m.ConnectionsRefused.Load(),
		OrgActorRestartsTotal:        m.OrgActorRestarts.Load(),
		PublishErrorsTotal:           m.PublishErrors.Load(),
		LiveForgedTotal:              m.LiveForged.Load(),
		Clients:                      m.Clients.Counts(),
		Log:                          LogSnapshot{Streams: m.LogStreams(), LeaderMoves: m.LeaderMoves.Load()},
	}
}

func (m *Metrics) uptime(now time.Time) time.Duration {
	if m.Start.IsZero() || now.Before(m.Start) {
		return 0
	}
	return now.Sub(m.Start)
}
