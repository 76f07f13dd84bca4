package connectorlib

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runtime's Prometheus metrics. Label values never carry
// record contents or secrets: only connector names, streams (channel
// names), topics, outcomes and error classes.
type Metrics struct {
	SourceRecords      *prometheus.CounterVec
	SourceTransactions *prometheus.CounterVec
	SourceOffsetWrites *prometheus.CounterVec
	SourceInFlight     *prometheus.GaugeVec
	SourceRestarts     *prometheus.CounterVec
	SourceBatchSeconds *prometheus.HistogramVec

	SinkRecords      *prometheus.CounterVec
	SinkRetries      *prometheus.CounterVec
	SinkDeadLetters  *prometheus.CounterVec
	SinkWriteSeconds *prometheus.HistogramVec
	SinkCommits      *prometheus.CounterVec
	SinkRestarts     *prometheus.CounterVec
}

// NewMetrics creates the runtime metrics and registers them with reg (a nil
// reg leaves them unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SourceRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_source_records_total",
			Help: "Source records durably written to Kafka, by stream.",
		}, []string{"connector", "stream"}),
		SourceTransactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_source_transactions_total",
			Help: "Kafka transactions ended by the source runner (exactly_once), by outcome (commit, abort).",
		}, []string{"connector", "outcome"}),
		SourceOffsetWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_source_offset_writes_total",
			Help: "Position writes to the offset store, by stream.",
		}, []string{"connector", "stream"}),
		SourceInFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sfconnect_source_in_flight_records",
			Help: "Records read from the source and not yet acknowledged by Kafka.",
		}, []string{"connector"}),
		SourceRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_source_restarts_total",
			Help: "Source sessions restarted from the last durable positions after an error, by error class.",
		}, []string{"connector", "class"}),
		SourceBatchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sfconnect_source_batch_seconds",
			Help:    "Time from a batch being read to its positions being durable.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"connector"}),

		SinkRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_sink_records_total",
			Help: "Sink records handled, by topic and outcome (ok, dlq).",
		}, []string{"connector", "topic", "outcome"}),
		SinkRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_sink_retries_total",
			Help: "Sink write attempts retried, by error class.",
		}, []string{"connector", "class"}),
		SinkDeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_sink_dead_letters_total",
			Help: "Records written to the dead-letter topic, by error class.",
		}, []string{"connector", "class"}),
		SinkWriteSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sfconnect_sink_write_seconds",
			Help:    "Duration of Sink.Write calls.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"connector"}),
		SinkCommits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_sink_offset_commits_total",
			Help: "Consumer offset commits, by outcome (ok, error).",
		}, []string{"connector", "outcome"}),
		SinkRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sfconnect_sink_restarts_total",
			Help: "Sink sessions restarted from the committed offsets after an error.",
		}, []string{"connector"}),
	}
	if reg != nil {
		reg.MustRegister(m.SourceRecords, m.SourceTransactions, m.SourceOffsetWrites, m.SourceInFlight,
			m.SourceRestarts, m.SourceBatchSeconds, m.SinkRecords, m.SinkRetries, m.SinkDeadLetters,
			m.SinkWriteSeconds, m.SinkCommits, m.SinkRestarts)
	}
	return m
}
