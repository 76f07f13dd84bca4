package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/conformance"
)

// TestSink_Conformance runs the connectorlib sink conformance suite against
// the Cosmos sink and the real server, through the fault proxy (which the
// throttling check uses).
func TestSink_Conformance(t *testing.T) {
	srv := cosmosServer(t)
	conformance.RunSink(t, &sinkDriver{srv: srv, proxy: newFaultProxy(t, srv), containers: map[*testing.T]string{}})
}

// sinkDriver connects the conformance suite to the Cosmos sink: one
// container per subtest.
type sinkDriver struct {
	srv   *testServer
	proxy *faultProxy

	mu         sync.Mutex
	containers map[*testing.T]string
	offsets    int64
}

func (d *sinkDriver) Features() conformance.SinkFeatures {
	return conformance.SinkFeatures{PartialBatchFailure: true, IdempotentWrites: true, Throttling: true, OrderedPerKey: true, Timeout: 30 * time.Second}
}

func (d *sinkDriver) config(t *testing.T) Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	name, ok := d.containers[t]
	if !ok {
		name = conformance.UniqueName(t)
		d.containers[t] = name
	}
	cfg := d.srv.testConfig(name)
	cfg.Endpoint = d.proxy.endpoint
	// Throttles longer than this go back to the runtime, as the suite's
	// throttling check expects; shorter ones are waited out inside.
	cfg.ThrottleMaxWait = 50 * time.Millisecond
	return cfg
}

func (d *sinkDriver) NewSink(t *testing.T) connectorlib.Sink {
	s, err := New(d.config(t), Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func (d *sinkDriver) Records(t *testing.T, n int) []connectorlib.Record {
	d.mu.Lock()
	base := d.offsets
	d.offsets += int64(n)
	d.mu.Unlock()
	out := make([]connectorlib.Record, n)
	for i := range n {
		id := fmt.Sprintf("%s-%d", conformance.UniqueName(t), base+int64(i))
		e := ev{ct: "CREATE", id: id, ts: 1000 + base + int64(i), cn: base + int64(i), fields: map[string]any{"Name": fmt.Sprintf("record %d", base+int64(i))}}
		out[i] = connectorlib.Record{Topic: "conformance", Offset: base + int64(i), Key: []byte(id), Value: e.value()}
	}
	return out
}

func (d *sinkDriver) BadRecord(t *testing.T) connectorlib.Record {
	return connectorlib.Record{Key: []byte("bad-" + conformance.UniqueName(t)), Value: []byte(`{"envelope_version":1,"kind":`)}
}

func (d *sinkDriver) ReadBack(t *testing.T) []conformance.Stored {
	s, err := New(d.config(t), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	if err := s.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	var out []conformance.Stored
	for id, doc := range allDocs(t, s) {
		out = append(out, conformance.Stored{Key: id, Value: mustJSON(t, doc)})
	}
	return out
}

// EqualValue compares a record's envelope with the document read back:
// the envelope's fields are the document's Salesforce fields.
func (d *sinkDriver) EqualValue(want, got []byte) bool {
	var env envelope
	var doc map[string]any
	if json.Unmarshal(want, &env) != nil || json.Unmarshal(got, &doc) != nil {
		return false
	}
	for _, k := range []string{"id", "sobject", metaField, "ttl"} {
		delete(doc, k)
	}
	return fmt.Sprint(doc) == fmt.Sprint(env.Fields)
}

func (d *sinkDriver) Inject(t *testing.T, f conformance.Fault) bool {
	if f != conformance.FaultThrottleOnce {
		return false
	}
	d.proxy.throttleOnce(200 * time.Millisecond)
	return true
}

func (d *sinkDriver) Configs() []conformance.ConfigCase {
	var out []conformance.ConfigCase
	for _, k := range []string{"COSMOS_ENDPOINT", "COSMOS_DATABASE", "COSMOS_CONTAINER"} {
		out = append(out, conformance.ConfigCase{
			Name: "missing_" + k, WantErr: "SFCONNECT_" + k,
			Build: func(t *testing.T) error {
				cfg := d.config(t)
				switch k {
				case "COSMOS_ENDPOINT":
					cfg.Endpoint = ""
				case "COSMOS_DATABASE":
					cfg.Database = ""
				case "COSMOS_CONTAINER":
					cfg.Container = ""
				}
				s, err := New(cfg, Deps{})
				if err == nil {
					_ = s.Close(context.Background())
				}
				return err
			},
		})
	}
	return out
}

// LeakOptions ignores the package's shared server, which outlives every
// subtest.
func (d *sinkDriver) LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/sfconnect/sfconnect/sink/cosmos.startServer.func1"),
		goleak.IgnoreAnyFunction("net/http.(*Server).Serve"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
	}
}
