package cosmos

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Cosmos sink's Prometheus metrics. Dead letters are
// counted by the runtime (sfconnect_sink_dead_letters_total).
type Metrics struct {
	connector string
	// Documents counts document writes by operation: create, replace,
	// delete, tombstone (a soft delete), move (a partition key change).
	Documents *prometheus.CounterVec
	// Changes counts records by outcome: applied, stale (older than or
	// equal to the document: a duplicate or a late event), exists (append
	// strategy), conflict (overwrite_if_not_modified lost a race), rejected
	// (permanent error, dead-lettered by the runtime).
	Changes *prometheus.CounterVec
	// Retries counts Cosmos requests retried inside the sink, by status
	// (429, 408, 449, 503, timeout, ...), and conditional writes redone
	// after another writer changed the document (status "precondition").
	Retries *prometheus.CounterVec
	// ThrottleSeconds sums the time spent waiting as 429 responses asked.
	ThrottleSeconds prometheus.Counter
	// RequestCharge sums the request units Cosmos DB reported
	// (x-ms-request-charge), by operation.
	RequestCharge *prometheus.CounterVec
	// Responses counts every HTTP response from Cosmos DB, the SDK's own
	// retries included, by status code.
	Responses *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer, connector string) *Metrics {
	l := prometheus.Labels{"connector": connector}
	m := &Metrics{
		connector: connector,
		Documents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_cosmos_documents_written_total",
			Help: "Cosmos DB document writes, by operation (create, replace, delete, tombstone, move).", ConstLabels: l}, []string{"operation"}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_cosmos_changes_total",
			Help: "Records by outcome: applied, stale (older than the document, skipped), exists, conflict, rejected.", ConstLabels: l}, []string{"outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_cosmos_retries_total",
			Help: "Cosmos DB requests retried inside the sink, by status (429, 408, 449, 503, timeout, precondition, ...).", ConstLabels: l}, []string{"status"}),
		ThrottleSeconds: prometheus.NewCounter(prometheus.CounterOpts{Name: "sfconnect_cosmos_throttle_wait_seconds_total",
			Help: "Time spent waiting as Cosmos DB 429 responses asked (x-ms-retry-after-ms).", ConstLabels: l}),
		RequestCharge: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_cosmos_request_units_total",
			Help: "Request units Cosmos DB charged (x-ms-request-charge), by operation.", ConstLabels: l}, []string{"operation"}),
		Responses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_cosmos_responses_total",
			Help: "HTTP responses from Cosmos DB, the SDK's own retries included, by status code.", ConstLabels: l}, []string{"status"}),
	}
	if reg != nil {
		reg.MustRegister(m.Documents, m.Changes, m.Retries, m.ThrottleSeconds, m.RequestCharge, m.Responses)
	}
	return m
}
