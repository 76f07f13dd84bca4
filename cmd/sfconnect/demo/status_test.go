package demo

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReadStatus reads the panel from metrics as the connectors register
// them: per-channel position, lag and event rate over a window, per-sink
// records, rate and dead letters, conflicts and the API budget.
func TestReadStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	pos := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sfconnect_source_replay_position"}, []string{"connector", "channel"})
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_source_events_received_total"}, []string{"connector", "channel"})
	records := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_sink_records_total"}, []string{"connector", "topic", "outcome"})
	dlq := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_sink_dead_letters_total"}, []string{"connector", "class"})
	conflicts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sfconnect_salesforce_sink_conflicts_total"}, []string{"connector", "object"})
	reg.MustRegister(pos, events, records, dlq, conflicts)
	pos.WithLabelValues("s", "/data/AccountChangeEvent").Set(42)
	events.WithLabelValues("s", "/data/AccountChangeEvent").Add(10)
	records.WithLabelValues("c", "t", "ok").Add(8)
	records.WithLabelValues("c", "t", "dlq").Add(2)
	dlq.WithLabelValues("c", "permanent").Add(2)
	conflicts.WithLabelValues("sf", "Account").Add(3)

	var r rates
	t0 := time.Unix(1000, 0)
	st, err := readStatus(reg, &fakeOrg{}, &r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Channels) != 1 || st.Channels[0].ReplayPosition != 42 || st.Channels[0].Events != 10 || st.Channels[0].EventsPerSec != 0 {
		t.Errorf("channels %+v", st.Channels)
	}
	if len(st.Sinks) != 1 || st.Sinks[0].Records != 10 || st.Sinks[0].DeadLetters != 2 {
		t.Errorf("sinks %+v", st.Sinks)
	}
	if st.Conflicts != 3 || st.APIUsed != 5 || st.APILimit != 1000 || st.SinkBudgetRemaining != -1 {
		t.Errorf("status %+v", st)
	}
	events.WithLabelValues("s", "/data/AccountChangeEvent").Add(50)
	records.WithLabelValues("c", "t", "ok").Add(100)
	// Within the window the rates stay those of the last full one.
	if st, _ = readStatus(reg, &fakeOrg{}, &r, t0.Add(time.Second)); st.Channels[0].EventsPerSec != 0 {
		t.Errorf("rate within the window: %v", st.Channels[0].EventsPerSec)
	}
	st, _ = readStatus(reg, &fakeOrg{}, &r, t0.Add(rateWindow))
	wantEvents, wantRecords := 50/rateWindow.Seconds(), 100/rateWindow.Seconds()
	if st.Channels[0].EventsPerSec != wantEvents || st.Sinks[0].RecordsPerSec != wantRecords {
		t.Errorf("rates over %v: events %v/s, records %v/s; want %v and %v", rateWindow, st.Channels[0].EventsPerSec,
			st.Sinks[0].RecordsPerSec, wantEvents, wantRecords)
	}
}
