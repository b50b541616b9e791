package transport

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orgstream/orgstream/metrics"
	"github.com/orgstream/orgstream/transport/auth"
)

// jwksDescs are the figures of the identity provider's key set, exported
// only when a JWKS URL is configured. An alert on jwks_fetch_ok == 0 says
// the keys in use may be old (or, with jwks_keys == 0, missing).
var (
	jwksOKDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "", "jwks_fetch_ok"),
		"1 when the last fetch of the JWKS succeeded, else 0 (the keys of the last good fetch stay in use).", nil, nil)
	jwksFailuresDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "", "jwks_fetch_failures_total"),
		"Fetches of the JWKS that failed.", nil, nil)
	jwksKeysDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "", "jwks_keys"),
		"Usable signing keys in the cached JWKS.", nil, nil)
	jwksLastSuccessDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "", "jwks_last_success_timestamp_seconds"),
		"Unix time of the last successful fetch of the JWKS; 0 if none yet.", nil, nil)
)

// jwksCollector reads a Verifier's JWKS status at scrape time.
type jwksCollector struct{ v *auth.Verifier }

var _ prometheus.Collector = jwksCollector{}

func (jwksCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jwksOKDesc
	ch <- jwksFailuresDesc
	ch <- jwksKeysDesc
	ch <- jwksLastSuccessDesc
}

func (c jwksCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.v.JWKSStatus()
	ok, last := 0.0, 0.0
	if st.State == auth.JWKSOK {
		ok = 1
	}
	if !st.LastSuccess.IsZero() {
		last = float64(st.LastSuccess.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(jwksOKDesc, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(jwksFailuresDesc, prometheus.CounterValue, float64(st.Failures))
	ch <- prometheus.MustNewConstMetric(jwksKeysDesc, prometheus.GaugeValue, float64(st.Keys))
	ch <- prometheus.MustNewConstMetric(jwksLastSuccessDesc, prometheus.GaugeValue, last)
}
