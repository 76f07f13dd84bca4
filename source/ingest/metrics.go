package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the ingest endpoint's Prometheus metrics, per endpoint
// (outbound, webhook). Labels never carry request contents.
type Metrics struct {
	// Requests counts answered requests by HTTP status code.
	Requests *prometheus.CounterVec
	// Rejects counts requests not acknowledged, by reason (method,
	// rate_limited, content_type, too_large, unauthenticated, malformed,
	// organization, unknown_object, unavailable, timeout, not_committed).
	Rejects *prometheus.CounterVec
	// Notifications counts notifications and events of acknowledged
	// requests, by outcome (written, duplicate).
	Notifications *prometheus.CounterVec
	// RequestSeconds is the time from receipt to answer.
	RequestSeconds *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg (nil leaves
// them unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_ingest_requests_total",
			Help: "HTTP ingest requests answered, by endpoint and status code.",
		}, []string{"connector", "endpoint", "code"}),
		Rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_ingest_rejects_total",
			Help: "HTTP ingest requests not acknowledged, by endpoint and reason.",
		}, []string{"connector", "endpoint", "reason"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_ingest_notifications_total",
			Help: "Notifications and events of acknowledged requests, by endpoint and outcome (written, duplicate).",
		}, []string{"connector", "endpoint", "outcome"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sfconnect_ingest_request_seconds",
			Help: "Time from receipt to answer of HTTP ingest requests (includes the Kafka commit), by endpoint.",
			// 1 ms to ~33 s: a commit takes milliseconds, a wait for a
			// restarting session seconds.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"connector", "endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Rejects, m.Notifications, m.RequestSeconds)
	}
	return m
}
