package salesforce

import "github.com/prometheus/client_golang/prometheus"

// API call kinds (the api label of the calls metric).
const (
	apiCollections = "collections" // one sObject Collections request
	apiComposite   = "composite"   // one /composite request (packed collections or queries)
	apiQuery       = "query"       // one SOQL query request
	apiBulk        = "bulk"        // one Bulk API 2.0 request (a job takes several)
	apiPubSub      = "pubsub"      // one Pub/Sub Publish call (not counted by Salesforce's REST budget)
)

// Metrics are the sink's Prometheus metrics, labelled by connector.
type Metrics struct {
	connector      string
	written        *prometheus.CounterVec
	unchanged      *prometheus.CounterVec
	calls          *prometheus.CounterVec
	recordsPerCall *prometheus.HistogramVec
	conflicts      *prometheus.CounterVec
	dlq            *prometheus.CounterVec
	budgetLeft     *prometheus.GaugeVec
	budgetLimit    *prometheus.GaugeVec
	breakerOpen    *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer, connector string) *Metrics {
	m := &Metrics{
		connector: connector,
		written: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_salesforce_sink_records_written_total",
			Help: "Records written to Salesforce, by sObject and operation (coalesced changes count once)."}, []string{"connector", "object", "operation"}),
		unchanged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_salesforce_sink_records_unchanged_total",
			Help: "Record writes skipped because Salesforce already held every value."}, []string{"connector", "object"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_salesforce_sink_api_calls_total",
			Help: "Salesforce API requests made, by kind (collections, composite, query, bulk, pubsub)."}, []string{"connector", "api"}),
		recordsPerCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sfconnect_salesforce_sink_records_per_call",
			Help: "Records written per write request.", Buckets: []float64{1, 5, 20, 50, 100, 200, 500, 1000, 5000}}, []string{"connector", "api"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_salesforce_sink_conflicts_total",
			Help: "Conflicts with Salesforce edits, by sObject and outcome (webapp_lost, fields_lost, merged, webapp_won)."}, []string{"connector", "object", "outcome"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_salesforce_sink_dead_letters_total",
			Help: "Changes the sink failed permanently (dead-lettered by the runner), by error code."}, []string{"connector", "code"}),
		budgetLeft: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_salesforce_sink_api_budget_remaining",
			Help: "The org's remaining daily API requests, from the last Sforce-Limit-Info."}, []string{"connector"}),
		budgetLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_salesforce_sink_api_budget_limit",
			Help: "The org's daily API request limit, from the last Sforce-Limit-Info."}, []string{"connector"}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_salesforce_sink_breaker_open",
			Help: "1 while the circuit breaker refuses calls."}, []string{"connector"}),
	}
	if reg != nil {
		reg.MustRegister(m.written, m.unchanged, m.calls, m.recordsPerCall, m.conflicts, m.dlq, m.budgetLeft, m.budgetLimit, m.breakerOpen)
	}
	return m
}
