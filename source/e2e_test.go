package source_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/schemas"
	"github.com/sfconnect/sfconnect/source"
)

// env is one source under test: a simulated org, a Kafka cluster and a
// runner reading the org into Kafka.
type env struct {
	sim     *sfsim.Sim
	cluster *kafkatest.Cluster
	auth    salesforce.AuthConfig
	name    string
}

func newEnv(t *testing.T, c *kafkatest.Cluster, opts ...sfsim.Opt) *env {
	t.Helper()
	field := func(name, typ string) salesforce.Field {
		return salesforce.Field{Name: name, Label: name, Type: typ, Nillable: true, Createable: true}
	}
	opts = append([]sfsim.Opt{sfsim.PlatformEvent("Order__e", field("OrderNumber__c", "string"), field("Amount__c", "double"))}, opts...)
	sim, err := sfsim.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, cluster: c, name: kafkatest.Topic(t, "src"), auth: salesforce.AuthConfig{
		LoginURL: sim.URL(), Flow: salesforce.FlowClientCredentials, ClientID: sfsim.DefaultClientID,
		ClientSecret: sfsim.DefaultClientSecret, CAFile: ca,
	}}
}

// run starts the source runner with cfg and returns a stop function.
func (e *env) run(t *testing.T, cfg source.Config, mode connectorlib.DeliveryMode) func() {
	t.Helper()
	r := e.start(t, cfg, mode, runOpts{})
	return func() {
		if err := r.stop(); err != nil {
			t.Errorf("runner: %v", err)
		}
	}
}

// runOpts are optional dependencies of a source under test.
type runOpts struct {
	metrics *source.Metrics // nil: unregistered metrics
	logger  *slog.Logger    // nil: no logs
}

// running is a source runner started by env.start.
type running struct {
	cancel context.CancelFunc
	conn   *source.Connector
	hc     *http.Client
	done   chan struct{} // closed when Run returned; err is then set
	err    error
	once   sync.Once
}

// start starts the source runner with cfg. It is stopped when t ends, or
// earlier with stop; wait waits for it to stop on its own.
func (e *env) start(t *testing.T, cfg source.Config, mode connectorlib.DeliveryMode, o runOpts) *running {
	t.Helper()
	tokens, err := salesforce.NewAuthenticator(e.auth)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := e.auth.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := source.New(ctx, cfg, source.Deps{
		Connector: e.name, Tokens: tokens, HTTPClient: hc, APIVersion: "62.0",
		REST:    salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: "62.0"}),
		Metrics: o.metrics, Logger: o.logger,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	rcfg := connectorlib.SourceConfig{
		Name: e.name, StreamGroup: "0", DeliveryMode: mode, MaxInFlight: 10000,
		OffsetFlushInterval: 50 * time.Millisecond, TransactionTimeout: 10 * time.Second,
		TopicAutoCreate: true, TopicPartitions: 3, TopicReplication: -1,
		ShutdownTimeout: 10 * time.Second, RestartBackoffMax: time.Second,
	}
	r := &running{cancel: cancel, conn: conn, hc: hc, done: make(chan struct{})}
	go func() {
		r.err = connectorlib.NewSourceRunner(rcfg, conn.Factory(), connectorlib.Deps{Kafka: e.cluster.Opts()}).Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// stopped reports whether Run has returned on its own.
func (r *running) stopped() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for Run to return on its own and returns its error.
func (r *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		t.Fatalf("the runner still runs after %v", d)
		return nil
	}
}

// stop cancels the runner, waits for Run and returns its error.
func (r *running) stop() error {
	r.cancel()
	<-r.done
	r.once.Do(func() {
		_ = r.conn.Close()
		// Idle keep-alive connections would hold up the simulator's
		// graceful shutdown.
		r.hc.CloseIdleConnections()
	})
	return r.err
}

func baseConfig(e *env, channels ...string) source.Config {
	return source.Config{
		Channels: channels, Transport: source.TransportPubSub, PubSubEndpoint: e.sim.GRPCAddr(), Appetite: 100,
		InitialReplay: source.ReplayEarliest, OnInvalidReplay: source.ReplayFail, ResyncBuffer: time.Minute,
		TopicTemplate: "salesforce.{entity}", LoopAction: source.LoopDrop, GapRepair: true,
	}
}

// readEnvelopes reads topic until want records arrived (or a deadline).
func readEnvelopes(t *testing.T, c *kafkatest.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []*kgo.Record
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := kafkaio.ReadCommitted(ctx, c.Admin(t), c.Opts(), topic, 10*time.Second, func(r *kgo.Record) error {
			out = append(out, r)
			return nil
		})
		cancel()
		if err == nil && len(out) >= want {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: %d records (err %v), want %d", topic, len(out), err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// validate checks a JSON envelope against schemas/change_envelope.avsc by
// encoding it with hamba and decoding the bytes with goavro.
func validate(t *testing.T, value []byte) source.Envelope {
	t.Helper()
	var e source.Envelope
	if err := json.Unmarshal(value, &e); err != nil {
		t.Fatalf("envelope is not JSON: %v: %s", err, value)
	}
	s := avro.MustParse(schemas.ChangeEnvelope)
	b, err := avro.Marshal(s, e)
	if err != nil {
		t.Fatalf("envelope does not fit the schema: %v", err)
	}
	codec, err := goavro.NewCodec(schemas.ChangeEnvelope)
	if err != nil {
		t.Fatal(err)
	}
	native, _, err := codec.NativeFromBinary(b)
	if err != nil {
		t.Fatalf("goavro cannot read the envelope: %v", err)
	}
	if native.(map[string]any)["entity"] != e.Entity {
		t.Fatalf("goavro read entity %v, want %s", native.(map[string]any)["entity"], e.Entity)
	}
	return e
}

func TestSource_PubSub_FanOutKeysAndEnvelope(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newEnv(t, c)
	var ids []string
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, n := range []string{"a", "b", "c"} {
			id, err := tx.Create("Account", map[string]any{"Name": n})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// One transaction, the same change to 3 records: one event, 3 records.
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for _, id := range ids {
			if err := tx.Update("Account", id, map[string]any{"BillingCity": "Lyon", "Rating": "Hot"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.PublishPlatformEvent("Order__e", map[string]any{"OrderNumber__c": "o-1", "Amount__c": 9.5}); err != nil {
		t.Fatal(err)
	}
	stop := e.run(t, baseConfig(e, "/data/AccountChangeEvent", "/event/Order__e"), connectorlib.DeliveryExactlyOnce)
	defer stop()

	recs := readEnvelopes(t, c, "salesforce.Account", 6)
	updates := map[string]source.Envelope{}
	for _, r := range recs {
		env := validate(t, r.Value)
		if string(r.Key) != *env.RecordID || len(r.Key) != 18 {
			t.Fatalf("key %q, record id %v", r.Key, env.RecordID)
		}
		if env.ChangeType == "UPDATE" {
			updates[string(r.Key)] = env
		}
	}
	if len(updates) != 3 {
		t.Fatalf("the 3-record update fanned out to %d records", len(updates))
	}
	for _, id := range ids {
		u := updates[id]
		if u.Fields["BillingAddress.City"] != "Lyon" || len(u.Header.RecordIDs) != 3 {
			t.Fatalf("update of %s: %+v", id, u)
		}
		want := map[string]bool{"BillingAddress.City": true, "Rating": true, "LastModifiedDate": true}
		for _, f := range u.ChangedFields {
			delete(want, f)
		}
		if len(want) != 0 {
			t.Fatalf("changed fields %v lack %v", u.ChangedFields, want)
		}
	}
	pe := readEnvelopes(t, c, "salesforce.Order__e", 1)
	env := validate(t, pe[0].Value)
	if env.Kind != source.KindPlatformEvent || env.Fields["OrderNumber__c"] != "o-1" || string(pe[0].Key) != *env.EventUUID {
		t.Fatalf("platform event record: key %q, %+v", pe[0].Key, env)
	}
}

func TestSource_Snapshot_ThenStreamWithoutLoss(t *testing.T) {
	t.Parallel()
	c := kafkatest.NewFake(t)
	e := newEnv(t, c, sfsim.StreamTimeouts(time.Minute, 200*time.Millisecond, time.Second))
	var ids []string
	if err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range 2500 {
			id, err := tx.Create("Account", map[string]any{"Name": "Snap", "NumberOfEmployees": float64(i)})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(e, "/data/AccountChangeEvent")
	cfg.InitialReplay = source.ReplayLatest
	cfg.SnapshotObjects = []string{"Account"}
	stop := e.run(t, cfg, connectorlib.DeliveryExactlyOnce)
	// A change after the snapshot started arrives on the stream.
	time.Sleep(500 * time.Millisecond)
	if err := e.sim.Update("Account", ids[0], map[string]any{"Rating": "Hot"}); err != nil {
		t.Fatal(err)
	}
	recs := readEnvelopes(t, c, "salesforce.Account", 2501)
	snap := map[string]bool{}
	updated := false
	for _, r := range recs {
		env := validate(t, r.Value)
		switch env.Kind {
		case source.KindSnapshot:
			snap[*env.RecordID] = true
		case source.KindChange:
			updated = updated || (*env.RecordID == ids[0] && env.ChangeType == "UPDATE")
		}
	}
	if len(snap) != 2500 || !updated {
		t.Fatalf("snapshot covered %d of 2500 records; stream update seen: %v", len(snap), updated)
	}
	stop()
	// The snapshot is done: a restart does not take it again.
	stop = e.run(t, cfg, connectorlib.DeliveryExactlyOnce)
	if err := e.sim.Update("Account", ids[1], map[string]any{"Rating": "Cold"}); err != nil {
		t.Fatal(err)
	}
	recs = readEnvelopes(t, c, "salesforce.Account", 2502)
	stop()
	if len(recs) != 2502 {
		t.Fatalf("after restart %d records, want 2502 (no second snapshot)", len(recs))
	}
}
