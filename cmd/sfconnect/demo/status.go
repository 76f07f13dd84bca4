package demo

import (
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Status is the page's status panel, read from the connectors' metrics.
type Status struct {
	Channels []ChannelStatus   `json:"channels"`
	Sinks    []ConnectorStatus `json:"sinks"`
	// SourceDeadLetters counts events the source dead-lettered.
	SourceDeadLetters float64 `json:"sourceDeadLetters"`
	// Conflicts counts web-app changes that lost to a Salesforce edit.
	Conflicts float64 `json:"conflicts"`
	// LoopEvents counts the sink's own writes the source recognised.
	LoopEvents float64 `json:"loopEvents"`
	// APIUsed and APILimit are the org's daily API requests (the
	// simulator's count, which Sforce-Limit-Info reports).
	APIUsed  int `json:"apiUsed"`
	APILimit int `json:"apiLimit"`
	// SinkBudgetRemaining is what the Salesforce sink last read from
	// Sforce-Limit-Info (-1 before its first call).
	SinkBudgetRemaining float64 `json:"sinkBudgetRemaining"`
}

// ChannelStatus is one source channel.
type ChannelStatus struct {
	Channel        string  `json:"channel"`
	ReplayPosition float64 `json:"replayPosition"`
	LagSeconds     float64 `json:"lagSeconds"`
	Events         float64 `json:"events"`
	EventsPerSec   float64 `json:"eventsPerSec"`
}

// ConnectorStatus is one sink connector.
type ConnectorStatus struct {
	Connector     string  `json:"connector"`
	Records       float64 `json:"records"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	DeadLetters   float64 `json:"deadLetters"`
}

// rateWindow is the span rates are averaged over: sinks count records per
// batch, so a shorter one would mostly read 0.
const rateWindow = 2 * time.Second

// rates turns counters into per-second rates over rateWindow.
type rates struct {
	at   time.Time
	prev map[string]float64
	last map[string]float64 // the rates of the last full window
}

// update recomputes the rates when a window has passed since the previous
// reading.
func (r *rates) update(next map[string]float64, now time.Time) {
	dt := now.Sub(r.at)
	if r.prev != nil && dt < rateWindow {
		return
	}
	if r.prev != nil {
		r.last = map[string]float64{}
		for k, v := range next {
			if p, ok := r.prev[k]; ok {
				r.last[k] = max(v-p, 0) / dt.Seconds()
			}
		}
	}
	r.at, r.prev = now, next
}

// readStatus gathers the metrics of reg. Families a connector has not
// registered (yet) read as zero.
func readStatus(reg prometheus.Gatherer, sf Salesforce, r *rates, now time.Time) (Status, error) {
	fams, err := reg.Gather()
	if err != nil {
		return Status{}, err
	}
	st := Status{SinkBudgetRemaining: -1}
	st.APIUsed, st.APILimit = sf.APIUsage()
	channels := map[string]*ChannelStatus{}
	channel := func(name string) *ChannelStatus {
		c, ok := channels[name]
		if !ok {
			c = &ChannelStatus{Channel: name}
			channels[name] = c
		}
		return c
	}
	sinks := map[string]*ConnectorStatus{}
	sink := func(name string) *ConnectorStatus {
		c, ok := sinks[name]
		if !ok {
			c = &ConnectorStatus{Connector: name}
			sinks[name] = c
		}
		return c
	}
	counters := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			v := value(m)
			switch f.GetName() {
			case "sfconnect_source_replay_position":
				channel(label(m, "channel")).ReplayPosition = v
			case "sfconnect_source_lag_seconds":
				channel(label(m, "channel")).LagSeconds = v
			case "sfconnect_source_events_received_total":
				c := channel(label(m, "channel"))
				c.Events = v
				counters["events/"+c.Channel] = v
			case "sfconnect_source_dead_letters_total":
				st.SourceDeadLetters += v
			case "sfconnect_source_loop_events_total":
				st.LoopEvents += v
			case "sfconnect_sink_records_total":
				c := sink(label(m, "connector"))
				c.Records += v
				counters["records/"+c.Connector] += v
			case "sfconnect_sink_dead_letters_total":
				sink(label(m, "connector")).DeadLetters += v
			case "sfconnect_salesforce_sink_conflicts_total":
				st.Conflicts += v
			case "sfconnect_salesforce_sink_api_budget_remaining":
				st.SinkBudgetRemaining = v
			}
		}
	}
	r.update(counters, now)
	for _, c := range channels {
		c.EventsPerSec = r.last["events/"+c.Channel]
		st.Channels = append(st.Channels, *c)
	}
	for _, c := range sinks {
		c.RecordsPerSec = r.last["records/"+c.Connector]
		st.Sinks = append(st.Sinks, *c)
	}
	sort.Slice(st.Channels, func(i, j int) bool { return st.Channels[i].Channel < st.Channels[j].Channel })
	sort.Slice(st.Sinks, func(i, j int) bool { return st.Sinks[i].Connector < st.Sinks[j].Connector })
	return st, nil
}

// value is a counter's or gauge's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

// label returns a metric's label value.
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
