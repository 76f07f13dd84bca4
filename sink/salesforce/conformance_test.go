package salesforce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/conformance"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// sinkDriver runs the conformance suite against the sink and a simulated
// org per test. Records are customer changes keyed by external id (the
// value names none, so the key identifies the Account).
type sinkDriver struct {
	mu   sync.Mutex
	sims map[*testing.T]*sfsim.Sim
	seq  int
}

func (d *sinkDriver) sim(t *testing.T) *sfsim.Sim {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sims[t]; s != nil {
		return s
	}
	s := newSim(t)
	d.sims[t] = s
	return s
}

func (d *sinkDriver) Features() conformance.SinkFeatures {
	return conformance.SinkFeatures{PartialBatchFailure: true, IdempotentWrites: true, Throttling: true, OrderedPerKey: true, Timeout: 20 * time.Second}
}

func (d *sinkDriver) NewSink(t *testing.T) connectorlib.Sink {
	cfg := baseConfig()
	rest, tokens := restClient(t, d.sim(t), cfg.ClientID)
	s, err := sfsink.New(cfg, sfsink.Deps{Connector: "conformance", REST: rest, Tokens: tokens, Conflicts: &memConflicts{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (d *sinkDriver) Records(t *testing.T, n int) []connectorlib.Record {
	d.mu.Lock()
	base := d.seq
	d.seq += n
	d.mu.Unlock()
	out := make([]connectorlib.Record, n)
	for i := range n {
		v, err := json.Marshal(ch{"envelope_version": 1, "object": "customer", "operation": "UPSERT",
			"fields": map[string]any{"name": fmt.Sprintf("conformance %d", base+i)}, "changed_at": time.Now().UnixMilli(),
			"idempotency_key": fmt.Sprintf("conf-%d", base+i)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = connectorlib.Record{Topic: "conformance", Offset: int64(base + i), Key: []byte(fmt.Sprintf("k%d", base+i)), Value: v}
	}
	return out
}

func (d *sinkDriver) BadRecord(t *testing.T) connectorlib.Record {
	return connectorlib.Record{Topic: "conformance", Key: []byte("bad"), Value: []byte(`{"envelope_version":1,"object":"customer"`)}
}

// ReadBack returns every Account with an external id; the value is the
// Name, which EqualValue compares with the change's name.
func (d *sinkDriver) ReadBack(t *testing.T) []conformance.Stored {
	var out []conformance.Stored
	for ext, r := range byExternalID(t, d.sim(t), "Account") {
		out = append(out, conformance.Stored{Key: ext, Value: []byte(fmt.Sprint(r["Name"]))})
	}
	return out
}

// EqualValue implements conformance.ValueComparer.
func (d *sinkDriver) EqualValue(want, got []byte) bool {
	var c struct {
		Fields map[string]any `json:"fields"`
	}
	return json.Unmarshal(want, &c) == nil && fmt.Sprint(c.Fields["name"]) == string(got)
}

func (d *sinkDriver) Inject(t *testing.T, f conformance.Fault) bool {
	if f != conformance.FaultThrottleOnce {
		return false
	}
	d.sim(t).FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 403, ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."})
	return true
}

func (d *sinkDriver) Configs() []conformance.ConfigCase {
	build := func(mod func(*sfsink.Config)) func(t *testing.T) error {
		return func(t *testing.T) error {
			cfg := baseConfig()
			mod(&cfg)
			sim := d.sim(t)
			rest, tokens := restClient(t, sim, cfg.ClientID)
			s, err := sfsink.New(cfg, sfsink.Deps{REST: rest, Tokens: tokens, Conflicts: &memConflicts{}})
			if err == nil {
				_ = s.Close(context.Background())
			}
			return err
		}
	}
	return []conformance.ConfigCase{
		{Name: "SINK_SALESFORCE_OBJECTS", Build: build(func(c *sfsink.Config) { c.Objects = nil }), WantErr: "SFCONNECT_SINK_SALESFORCE_OBJECTS"},
		{Name: "SINK_SALESFORCE_FIELDS", Build: build(func(c *sfsink.Config) { c.Fields = []string{"customer.name"} }), WantErr: "SFCONNECT_SINK_SALESFORCE_FIELDS"},
	}
}

// TestSink_Conformance runs the shared sink conformance suite.
func TestSink_Conformance(t *testing.T) {
	conformance.RunSink(t, &sinkDriver{sims: map[*testing.T]*sfsim.Sim{}})
}
