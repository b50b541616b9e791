package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every orgstream metric name.
const Namespace = "orgstream"

// Collector exports a Metrics to Prometheus. It reads the atomics at scrape
// time, so updates cost nothing beyond their atomic add.
type Collector struct {
	m       *Metrics
	now     func() time.Time
	fig     []figure
	clients *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

type figure struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*Metrics) float64
}

// NewCollector returns a Collector over m. now is the clock of the uptime
// gauge; nil means time.Now.
func NewCollector(m *Metrics, now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	c := &Collector{m: m, now: now, clients: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "", "connections_by_client"),
		"Open streams by the client name and version they sent (\"unknown\": none sent).",
		[]string{"client"}, nil)}
	add := func(name, help string, kind prometheus.ValueType, v func(*Metrics) float64) {
		c.fig = append(c.fig, figure{
			desc:  prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, nil),
			kind:  kind,
			value: v,
		})
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	add("connections", "Open WebSocket streams.", gauge,
		func(m *Metrics) float64 { return float64(m.Connections.Load()) })
	add("orgs_active", "Org actors alive on this node.", gauge,
		func(m *Metrics) float64 { return float64(m.OrgsActive.Load()) })
	add("nats_subscriptions", "Live feeds from the log (one per active org).", gauge,
		func(m *Metrics) float64 { return float64(m.NATSSubscriptions.Load()) })
	add("events_published_total", "Events stored in the log by this node.", counter,
		func(m *Metrics) float64 { return float64(m.EventsPublished.Load()) })
	add("events_delivered_total", "Event frames queued to connections.", counter,
		func(m *Metrics) float64 { return float64(m.EventsDelivered.Load()) })
	add("replayed_total", "Events sent as replay on resume.", counter,
		func(m *Metrics) float64 { return float64(m.Replayed.Load()) })
	add("slow_consumer_disconnects_total", "Connections closed with 4008.", counter,
		func(m *Metrics) float64 { return float64(m.SlowConsumerCuts.Load()) })
	add("connections_refused_total", "Streams refused before or right after the upgrade.", counter,
		func(m *Metrics) float64 { return float64(m.ConnectionsRefused.Load()) })
	add("org_actor_restarts_total", "Org actor panics recovered by the supervisor.", counter,
		func(m *Metrics) float64 { return float64(m.OrgActorRestarts.Load()) })
	add("publish_errors_total", "Publishes that failed with the log unavailable.", counter,
		func(m *Metrics) float64 { return float64(m.PublishErrors.Load()) })
	add("live_forged_total", "Live messages refused as forged: not the log's republish of a stored event.", counter,
		func(m *Metrics) float64 { return float64(m.LiveForged.Load()) })
	add("log_leader_moves_total", "Log stream leaders this node stepped down to spread the leaders over the nodes.", counter,
		func(m *Metrics) float64 { return float64(m.LeaderMoves.Load()) })
	add("uptime_seconds", "Seconds since the node started.", gauge,
		func(m *Metrics) float64 { return m.uptime(c.now()).Seconds() })
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.fig {
		ch <- f.desc
	}
	ch <- c.clients
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.fig {
		ch <- prometheus.MustNewConstMetric(f.desc, f.kind, f.value(c.m))
	}
	for client, n := range c.m.Clients.Counts() {
		ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(n), client)
	}
}

// NewRegistry returns a private registry (never the global one) with a
// Collector over m plus the Go runtime and process collectors.
func NewRegistry(m *Metrics, now func() time.Time) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(m, now),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
