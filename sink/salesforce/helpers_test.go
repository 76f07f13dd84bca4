package salesforce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sfconnect/sfconnect/connectorlib"
	sfapi "github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// otherUser is a person editing in Salesforce's UI while the sink syncs
// (the sink's own session belongs to sfsim's integration user).
const otherUser = "005000000000099AAA"

// baseConfig maps the web app's customer and person types to Account and
// Contact, matched by External_Id__c.
func baseConfig() sfsink.Config {
	return sfsink.Config{
		Objects: []string{"customer=Account", "person=Contact"},
		Fields: []string{
			"customer.name=Name", "customer.phone=Phone", "customer.city=BillingCity", "customer.employees=NumberOfEmployees",
			"person.first=FirstName", "person.last=LastName", "person.email=Email",
		},
		ExternalIDs:    []string{"Account=External_Id__c", "Contact=External_Id__c"},
		ClientID:       "sfconnect-test",
		Mode:           sfsink.ModeComposite,
		Pack:           true,
		BulkThreshold:  0,
		BulkPoll:       20 * time.Millisecond,
		ConflictPolicy: sfsink.PolicyLastWriterWins, ConflictWindow: 5 * time.Minute,
		APIReservePercent: 0, APIReserveInterval: time.Second,
		BreakerFailures: 3, BreakerCooldown: time.Minute,
		ValueFormat: sfsink.ValueFormatJSON,
	}
}

// memConflicts keeps conflicts in memory; failNext makes the next write
// fail.
type memConflicts struct {
	mu       sync.Mutex
	got      []sfsink.Conflict
	failNext bool
}

func (m *memConflicts) WriteConflicts(_ context.Context, cs []sfsink.Conflict) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failNext {
		m.failNext = false
		return fmt.Errorf("injected conflict store failure")
	}
	m.got = append(m.got, cs...)
	return nil
}

func (m *memConflicts) all() []sfsink.Conflict {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sfsink.Conflict(nil), m.got...)
}

// env is a sink wired to its own simulated org.
type env struct {
	sim       *sfsim.Sim
	sink      *sfsink.Sink
	rest      *sfapi.Client
	tokens    sfapi.TokenProvider
	conflicts *memConflicts
	reg       *prometheus.Registry
}

// newSim starts a simulated org, closed when t ends.
func newSim(t testing.TB, opts ...sfsim.Opt) *sfsim.Sim {
	t.Helper()
	s, err := sfsim.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// restClient returns an authenticated client of sim stamping clientID.
func restClient(t testing.TB, sim *sfsim.Sim, clientID string) (*sfapi.Client, sfapi.TokenProvider) {
	t.Helper()
	auth := authConfig(t, sim)
	tokens, err := sfapi.NewAuthenticator(auth)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	return sfapi.NewClient(tokens, hc, sfapi.ClientConfig{APIVersion: "62.0", CallClientID: clientID}), tokens
}

// newEnv builds and opens a sink on a fresh org.
func newEnv(t testing.TB, cfg sfsink.Config, simOpts ...sfsim.Opt) *env {
	t.Helper()
	sim := newSim(t, simOpts...)
	return newEnvOn(t, sim, cfg)
}

// newEnvOn builds and opens a sink on sim.
func newEnvOn(t testing.TB, sim *sfsim.Sim, cfg sfsink.Config) *env {
	t.Helper()
	rest, tokens := restClient(t, sim, cfg.ClientID)
	e := &env{sim: sim, rest: rest, tokens: tokens, conflicts: &memConflicts{}, reg: prometheus.NewRegistry()}
	sink, err := sfsink.New(cfg, sfsink.Deps{Connector: "test", REST: rest, Tokens: tokens,
		Conflicts: e.conflicts, Metrics: sfsink.NewMetrics(e.reg, "test")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close(context.Background()) })
	e.sink = sink
	return e
}

// write calls Write with a bounded context.
func (e *env) write(t testing.TB, batch []connectorlib.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return e.sink.Write(ctx, batch)
}

// apiUsed returns the org's API requests used so far: every REST request
// the simulator served, counted at the simulator.
func (e *env) apiUsed() int {
	used, _ := e.sim.APIUsage()
	return used
}

// ch is a web-app change in its JSON form.
type ch map[string]any

// upsert returns an UPSERT change of typ with external id ext.
func upsert(typ, ext string, fields map[string]any, at time.Time) ch {
	return ch{"envelope_version": 1, "object": typ, "operation": "UPSERT", "external_id": ext, "fields": fields,
		"changed_at": at.UnixMilli(), "idempotency_key": fmt.Sprintf("%s-%s-%d-%v", typ, ext, at.UnixNano(), len(fields))}
}

// update returns an UPDATE change matched by external id.
func update(typ, ext string, fields map[string]any, at time.Time) ch {
	c := upsert(typ, ext, fields, at)
	c["operation"] = "UPDATE"
	c["idempotency_key"] = fmt.Sprintf("u-%v", c["idempotency_key"])
	return c
}

// del returns a DELETE change matched by external id.
func del(typ, ext string, at time.Time) ch {
	return ch{"envelope_version": 1, "object": typ, "operation": "DELETE", "external_id": ext,
		"changed_at": at.UnixMilli(), "idempotency_key": fmt.Sprintf("d-%s-%s-%d", typ, ext, at.UnixNano())}
}

// records turns changes into one partition's batch, keyed by external id.
func records(t testing.TB, topic string, changes ...ch) []connectorlib.Record {
	t.Helper()
	out := make([]connectorlib.Record, len(changes))
	for i, c := range changes {
		v, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprint(c["external_id"])
		if id, ok := c["record_id"]; ok {
			key = fmt.Sprint(id)
		}
		out[i] = connectorlib.Record{Topic: topic, Partition: 0, Offset: int64(i), Key: []byte(key), Value: v, Time: time.Now()}
	}
	return out
}

// byExternalID returns the live records of object keyed by External_Id__c.
func byExternalID(t testing.TB, sim *sfsim.Sim, object string) map[string]map[string]any {
	t.Helper()
	recs, err := sim.Records(object)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, r := range recs {
		if ext, ok := r["External_Id__c"].(string); ok && ext != "" {
			out[ext] = r
		}
	}
	return out
}

// batchError returns err as a *BatchError whose failures are all
// retryable, failing t otherwise.
func batchError(t testing.TB, err error) *connectorlib.BatchError {
	t.Helper()
	be, ok := err.(*connectorlib.BatchError)
	if !ok {
		t.Fatalf("error %v (%T); want a *BatchError", err, err)
	}
	for i, e := range be.Failed {
		if !connectorlib.IsRetryable(e) {
			t.Errorf("record %d failed permanently: %v", i, e)
		}
	}
	return be
}

// tokensOf returns the token provider of e's REST client.
func tokensOf(_ testing.TB, e *env) sfapi.TokenProvider { return e.tokens }

// authConfig is the client-credentials configuration for sim, trusting its
// certificate.
func authConfig(t testing.TB, sim *sfsim.Sim) sfapi.AuthConfig {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return sfapi.AuthConfig{LoginURL: sim.URL(), Flow: sfapi.FlowClientCredentials,
		ClientID: sfsim.DefaultClientID, ClientSecret: sfsim.DefaultClientSecret, CAFile: ca}
}
