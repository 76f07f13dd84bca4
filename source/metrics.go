package source

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
)

// Metrics are the source's per-channel Prometheus metrics.
type Metrics struct {
	connector     string
	events        *prometheus.CounterVec
	records       *prometheus.CounterVec
	decodeErrors  *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	reconnects    *prometheus.CounterVec
	invalidReplay *prometheus.CounterVec
	loopEvents    *prometheus.CounterVec
	gapRepairs    *prometheus.CounterVec
	position      *prometheus.GaugeVec
	lag           *prometheus.GaugeVec
	snapDone      *prometheus.GaugeVec
	snapTotal     *prometheus.GaugeVec

	mu           sync.Mutex
	channels     map[string]*channelMetrics
	replayPolicy string // SOURCE_ON_INVALID_REPLAY: the policy label of invalidReplay

}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer, connector string) *Metrics {
	cv := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"connector", "channel"})
	}
	m := &Metrics{
		connector:    connector,
		events:       cv("sfconnect_source_events_received_total", "Salesforce events received, by channel."),
		records:      cv("sfconnect_source_records_built_total", "Kafka records built from events (after fan-out), by channel."),
		decodeErrors: cv("sfconnect_source_decode_errors_total", "Events that could not be decoded, by channel."),
		deadLetters:  cv("sfconnect_source_dead_letters_total", "Events written to the dead-letter topic, by channel."),
		reconnects:   cv("sfconnect_source_reconnects_total", "Resubscriptions after an error, by channel."),
		invalidReplay: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_source_invalid_replay_total",
			Help: "Stored replay ids Salesforce no longer had, by channel and the replay policy applied (fail, earliest, latest or resync)."},
			[]string{"connector", "channel", "policy"}),
		loopEvents: cv("sfconnect_source_loop_events_total", "Changes made by our own write-back clients, dropped or tagged, by channel."),
		gapRepairs: cv("sfconnect_source_gap_repairs_total", "Records re-read after gap events, by channel."),
		position: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_source_replay_position",
			Help: "Replay id of the last event handed to the runtime, by channel (for 8-byte replay ids)."}, []string{"connector", "channel"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_source_lag_seconds",
			Help: "Now minus the commit timestamp of the last change event, by channel."}, []string{"connector", "channel"}),
		snapDone: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_source_snapshot_records_done",
			Help: "Records loaded by the running or last initial snapshot, by object."}, []string{"connector", "object"}),
		snapTotal: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_source_snapshot_records_total",
			Help: "Records the initial snapshot of an object has to load (SOQL COUNT at its start)."}, []string{"connector", "object"}),
		channels: map[string]*channelMetrics{}, replayPolicy: ReplayFail,
	}
	if reg != nil {
		reg.MustRegister(m.events, m.records, m.decodeErrors, m.deadLetters, m.reconnects, m.invalidReplay,
			m.loopEvents, m.gapRepairs, m.position, m.lag, m.snapDone, m.snapTotal)
	}
	return m
}

// channelMetrics are the metrics of one channel, looked up once.
type channelMetrics struct {
	events, records, decodeErrors, deadLetters, reconnects, invalidReplay, loopEvents, gapRepairs prometheus.Counter
	pos, lag                                                                                      prometheus.Gauge
}

func (m *Metrics) channel(ch string) *channelMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.channels[ch]; c != nil {
		return c
	}
	l := []string{m.connector, ch}
	c := &channelMetrics{
		events: m.events.WithLabelValues(l...), records: m.records.WithLabelValues(l...),
		decodeErrors: m.decodeErrors.WithLabelValues(l...), deadLetters: m.deadLetters.WithLabelValues(l...),
		reconnects: m.reconnects.WithLabelValues(l...), invalidReplay: m.invalidReplay.WithLabelValues(m.connector, ch, m.replayPolicy),
		loopEvents: m.loopEvents.WithLabelValues(l...), gapRepairs: m.gapRepairs.WithLabelValues(l...),
		pos: m.position.WithLabelValues(l...), lag: m.lag.WithLabelValues(l...),
	}
	m.channels[ch] = c
	return c
}

// setReplayPolicy sets the policy label of the invalid replay counter of
// channels met from now on. The policy is one setting per process, so each
// channel has one series, created (at zero) with the channel's other
// metrics: an alert on its increase sees the first occurrence.
func (m *Metrics) setReplayPolicy(policy string) {
	if policy == "" {
		policy = ReplayFail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replayPolicy = policy
}

func (c *channelMetrics) position(p connectorlib.Position) {
	if n, err := pubsub.DecodeReplayID(p); err == nil {
		c.pos.Set(float64(n))
	}
}

func (c *channelMetrics) commitLag(commit time.Time, now time.Time) {
	if !commit.IsZero() {
		c.lag.Set(now.Sub(commit).Seconds())
	}
}

type snapshotMetrics struct{ done, total prometheus.Gauge }

func (m *Metrics) snapshot(object string) snapshotMetrics {
	return snapshotMetrics{done: m.snapDone.WithLabelValues(m.connector, object), total: m.snapTotal.WithLabelValues(m.connector, object)}
}
