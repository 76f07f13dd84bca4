package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// The end-to-end workload: e2eRecords Accounts, e2eChanges changes in all
// (the creates included), made in sfsim and streamed by the real source.
const (
	e2eRecords = 1_000
	e2eChanges = 10_000
	// e2eBudget bounds each wait for the pipeline to catch up.
	e2eBudget = 4 * time.Minute
)

// pipeline is sfsim, the real source and a Kafka cluster: the upstream of
// the sink under test.
type pipeline struct {
	sim     *sfsim.Sim
	cluster *kafkatest.Cluster
	topic   string
	name    string
}

// startPipeline starts sfsim and the Salesforce source writing its
// AccountChangeEvent channel to a topic of three partitions.
func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	c := kafkatest.Real(t)
	if c == nil {
		c = kafkatest.NewFake(t)
	}
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	ca := filepath.Join(t.TempDir(), "sfsim-ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := salesforce.AuthConfig{LoginURL: sim.URL(), Flow: salesforce.FlowClientCredentials, ClientID: sfsim.DefaultClientID,
		ClientSecret: sfsim.DefaultClientSecret, CAFile: ca}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	prefix := kafkatest.Topic(t, "cosmos")
	p := &pipeline{sim: sim, cluster: c, topic: prefix + ".Account", name: prefix}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := source.New(ctx, source.Config{
		Channels: []string{"/data/AccountChangeEvent"}, Transport: source.TransportPubSub, PubSubEndpoint: sim.GRPCAddr(), Appetite: 100,
		InitialReplay: source.ReplayEarliest, OnInvalidReplay: source.ReplayFail, ResyncBuffer: time.Minute,
		TopicTemplate: prefix + ".{entity}", LoopAction: source.LoopDrop, GapRepair: true,
	}, source.Deps{Connector: p.name, Tokens: tokens, HTTPClient: hc, APIVersion: "62.0",
		REST: salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: "62.0"})})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	rcfg := connectorlib.SourceConfig{
		Name: p.name, StreamGroup: "0", DeliveryMode: connectorlib.DeliveryAtLeastOnce, MaxInFlight: 10000,
		OffsetFlushInterval: 50 * time.Millisecond, TransactionTimeout: 10 * time.Second,
		TopicAutoCreate: true, TopicPartitions: 3, TopicReplication: -1,
		ShutdownTimeout: 10 * time.Second, RestartBackoffMax: time.Second,
	}
	done := make(chan error, 1)
	go func() {
		done <- connectorlib.NewSourceRunner(rcfg, conn.Factory(), connectorlib.Deps{Kafka: c.Opts()}).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("source runner: %v", err)
		}
		_ = conn.Close()
		hc.CloseIdleConnections()
	})
	return p
}

// generate makes e2eChanges changes to e2eRecords Accounts in sfsim:
// creates, updates that set and null fields (some several records with the
// same values in one transaction, which Salesforce reports as one event
// naming them all), deletes and undeletes.
func (p *pipeline) generate(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 9))
	var live, deleted []string
	changes := 0
	for changes < e2eRecords {
		err := p.sim.Transaction(func(tx *sfsim.Tx) error {
			for range 10 {
				id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprintf("Account %d", changes), "Industry": "Retail",
					"NumberOfEmployees": float64(changes), "Phone": "555-0100"})
				if err != nil {
					return err
				}
				live = append(live, id)
				changes++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	industries := []string{"Agriculture", "Banking", "Technology", "Energy", "Retail", "Other"}
	for changes < e2eChanges {
		err := p.sim.Transaction(func(tx *sfsim.Tx) error {
			for n := 1 + rng.IntN(5); n > 0 && changes < e2eChanges; n-- {
				switch r := rng.IntN(100); {
				case r < 8 && len(live) > 100:
					i := rng.IntN(len(live))
					if err := tx.Delete("Account", live[i]); err != nil {
						return err
					}
					deleted = append(deleted, live[i])
					live = slices.Delete(live, i, i+1)
					changes++
				case r < 14 && len(deleted) > 0:
					i := rng.IntN(len(deleted))
					if err := tx.Undelete("Account", deleted[i]); err != nil {
						return err
					}
					live = append(live, deleted[i])
					deleted = slices.Delete(deleted, i, i+1)
					changes++
				case r < 20 && changes+3 <= e2eChanges:
					// The same values on three records in one transaction.
					rating := []any{"Hot", "Warm", nil}[rng.IntN(3)]
					for _, j := range rng.Perm(len(live))[:3] {
						if err := tx.Update("Account", live[j], map[string]any{"Rating": rating}); err != nil {
							return err
						}
						changes++
					}
				default:
					f := map[string]any{"NumberOfEmployees": float64(rng.IntN(100000))}
					switch rng.IntN(4) {
					case 0:
						f["Industry"] = industries[rng.IntN(len(industries))]
					case 1:
						f["Phone"] = nil
					case 2:
						f["Description"] = strings.Repeat("d", rng.IntN(2000))
					case 3:
						f["Name"] = fmt.Sprintf("Renamed %d", changes)
					}
					if err := tx.Update("Account", live[rng.IntN(len(live))], f); err != nil {
						return err
					}
					changes++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// endOffsets returns the topic's end offsets once they stopped growing for
// a second and hold at least want records.
func (p *pipeline) endOffsets(t *testing.T, want int64) kadm.ListedOffsets {
	t.Helper()
	adm := p.cluster.Admin(t)
	deadline := time.Now().Add(e2eBudget)
	var last int64 = -1
	for {
		eo, err := adm.ListEndOffsets(context.Background(), p.topic)
		var total int64
		if err == nil {
			eo.Each(func(o kadm.ListedOffset) { total += o.Offset })
		}
		if err == nil && total >= want && total == last {
			return eo
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s holds %d records (err %v); want %d", p.topic, total, err, want)
		}
		last = total
		time.Sleep(time.Second)
	}
}

// runSink runs a sink runner (group group, sink s) until it committed the
// end offsets eo, then stops it.
func (p *pipeline) runSink(t *testing.T, s *Sink, group string, eo kadm.ListedOffsets, reg *prometheus.Registry) (dlq int64) {
	t.Helper()
	stop := p.startSink(t, s, group, reg)
	p.waitCommitted(t, group, eo)
	stop()
	return p.dlqCount(t)
}

// startSink starts a sink runner and returns its stop function.
func (p *pipeline) startSink(t *testing.T, s *Sink, group string, reg *prometheus.Registry) func() {
	t.Helper()
	cfg := connectorlib.SinkConfig{
		Name: p.name, Topics: []string{p.topic}, Group: group, DLQTopic: p.name + ".dlq", DLQPartitions: 1,
		BatchMaxRecords: 500, MaxPollRecords: 5000, Parallelism: 3, RetryInitial: 50 * time.Millisecond, RetryMax: 2 * time.Second,
		RetryMaxAttempts: 10, RetryMaxElapsed: 5 * time.Minute, OnRetryExhausted: connectorlib.ExhaustedDLQ,
		SessionTimeout: 10 * time.Second, ShutdownTimeout: 30 * time.Second, RestartBackoffMax: time.Second,
	}
	deps := connectorlib.Deps{Kafka: p.cluster.Opts()}
	if reg != nil {
		deps.Metrics = connectorlib.NewMetrics(reg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- connectorlib.NewSinkRunner(cfg, s, deps).Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink runner: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitCommitted waits until group committed every partition's end offset.
func (p *pipeline) waitCommitted(t *testing.T, group string, eo kadm.ListedOffsets) {
	t.Helper()
	adm := p.cluster.Admin(t)
	deadline := time.Now().Add(e2eBudget)
	for {
		fo, err := adm.FetchOffsets(context.Background(), group)
		behind := int64(0)
		eo.Each(func(o kadm.ListedOffset) {
			c, ok := fo.Lookup(o.Topic, o.Partition)
			if !ok {
				behind += o.Offset
				return
			}
			behind += max(0, o.Offset-c.At)
		})
		if err == nil && behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s is %d records behind after %v (err %v)", group, behind, e2eBudget, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dlqCount returns how many records the dead-letter topic holds.
func (p *pipeline) dlqCount(t *testing.T) int64 {
	t.Helper()
	eo, err := p.cluster.Admin(t).ListEndOffsets(context.Background(), p.name+".dlq")
	if err != nil {
		t.Fatalf("dead-letter topic: %v", err)
	}
	var n int64
	eo.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

// checkAgainstSim compares every document with the final state of its
// record in sfsim, field by field: live records have exactly one document
// with the same values, deleted ones none. It returns the number of
// documents compared.
func (p *pipeline) checkAgainstSim(t *testing.T, s *Sink) int {
	t.Helper()
	recs, err := p.sim.Records("Account")
	if err != nil {
		t.Fatal(err)
	}
	docs := allDocs(t, s)
	bad := 0
	for _, rec := range recs {
		id := rec["Id"].(string)
		doc, ok := docs[id]
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("record %s has no document", id)
			}
			continue
		}
		delete(docs, id)
		if diff := diffRecord(rec, doc); diff != "" {
			bad++
			if bad <= 5 {
				t.Errorf("document %s differs from the record: %s", id, diff)
			}
		}
	}
	for id := range docs {
		bad++
		if bad <= 10 {
			t.Errorf("document %s has no live record (deleted in Salesforce)", id)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d records differ", bad, len(recs))
	}
	return len(recs)
}

// cdcAbsent are record fields change events never carry (as in
// Salesforce), so the documents cannot hold them.
var cdcAbsent = map[string]bool{"Id": true, "IsDeleted": true, "SystemModstamp": true}

// diffRecord describes how doc differs from the sfsim record rec ("" when
// equal). A missing field equals null; compound components are named as
// the envelope flattens them (BillingAddress.City is BillingCity).
func diffRecord(rec, doc map[string]any) string {
	got := map[string]any{}
	for k, v := range doc {
		if k == "id" || k == "sobject" || k == metaField {
			continue
		}
		if prefix, comp, ok := strings.Cut(k, "."); ok {
			k = strings.TrimSuffix(prefix, "Address") + comp
		}
		got[k] = v
	}
	var diffs []string
	keys := map[string]bool{}
	for k := range rec {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	for k := range keys {
		if cdcAbsent[k] {
			continue
		}
		if a, b := norm(rec[k]), norm(got[k]); a != b {
			diffs = append(diffs, fmt.Sprintf("%s: record %s, document %s", k, a, b))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

// norm renders a value comparably: times and datetime strings as UTC
// milliseconds, numbers as float64.
func norm(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case string:
		if ms, ok := parseModstamp(x); ok && strings.Contains(x, "T") {
			return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		}
	case int:
		v = float64(x)
	case int64:
		v = float64(x)
	case json.Number:
		f, _ := x.Float64()
		v = f
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSink_EndToEnd_FaultsReplaysRebalance streams e2eChanges changes made
// in sfsim through the real source and Kafka into the sink, through a
// proxy that answers 20% of Cosmos requests 429 (with x-ms-retry-after-ms),
// 5% 503 and lets 3% time out (half of them after the server applied the
// request). Afterwards every document must equal its record's final state
// in sfsim, with nothing dead-lettered. Then the topic is replayed from the
// start twice, and finally two sink processes in one group race into a
// fresh container through rebalances while a third, in another group,
// replays the topic into it at the same time: the documents must not
// change, and the fresh container must end up identical.
func TestSink_EndToEnd_FaultsReplaysRebalance(t *testing.T) {
	srv := cosmosServer(t)
	p := startPipeline(t)
	p.generate(t)
	eo := p.endOffsets(t, e2eChanges)
	var total int64
	eo.Each(func(o kadm.ListedOffset) { total += o.Offset })
	// sfsim folds the same change to several records of one transaction
	// into one event naming them all (as Salesforce does); the source fans
	// such an event out into one record per Id.
	t.Logf("sfsim published change events up to replay id %d; the source wrote %d records for %d record changes to %s (%s)",
		p.sim.LatestReplayID(), total, e2eChanges, p.topic, p.cluster.Kind)
	if p.sim.LatestReplayID() >= e2eChanges {
		t.Errorf("no change event named several records: the fan-out is not exercised")
	}

	proxy := newFaultProxy(t, srv)
	proxy.setRates(0.20, 0.05, 0.03)
	cfg := srv.testConfig(containerName(t))
	cfg.Endpoint = proxy.endpoint
	cfg.RequestTimeout = 500 * time.Millisecond
	cfg.RetryInitial = 20 * time.Millisecond
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, "e2e")
	// The runner owns its sink: it opens it and closes it when it stops.
	newSink := func(cfg Config) *Sink {
		s, err := New(cfg, Deps{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	start := time.Now()
	dlq := p.runSink(t, newSink(cfg), p.name+".g1", eo, reg)
	took := time.Since(start)
	t.Logf("faults injected: %d (429: %d, 503: %d, timeouts before the server: %d, after it applied: %d) among %d forwarded requests; sink took %v",
		proxy.faults(), proxy.n429.Load(), proxy.n503.Load(), proxy.nTimeoutBefore.Load(), proxy.nTimeoutAfter.Load(), proxy.nForwarded.Load(), took.Round(time.Millisecond))
	t.Logf("sink metrics: applied %v, stale %v, retries 429 %v / 503 %v / timeout %v / precondition %v, throttle wait %.2fs, documents create %v replace %v delete %v",
		testutil.ToFloat64(m.Changes.WithLabelValues("applied")), testutil.ToFloat64(m.Changes.WithLabelValues("stale")),
		testutil.ToFloat64(m.Retries.WithLabelValues("429")), testutil.ToFloat64(m.Retries.WithLabelValues("503")),
		testutil.ToFloat64(m.Retries.WithLabelValues("timeout")), testutil.ToFloat64(m.Retries.WithLabelValues("precondition")),
		testutil.ToFloat64(m.ThrottleSeconds), testutil.ToFloat64(m.Documents.WithLabelValues("create")),
		testutil.ToFloat64(m.Documents.WithLabelValues("replace")), testutil.ToFloat64(m.Documents.WithLabelValues("delete")))
	if dlq != 0 {
		t.Errorf("%d records dead-lettered; want none", dlq)
	}
	if proxy.n429.Load() == 0 || proxy.n503.Load() == 0 || proxy.nTimeoutAfter.Load() == 0 {
		t.Errorf("the proxy injected too few faults to mean anything: %d", proxy.faults())
	}
	proxy.setRates(0, 0, 0)
	s := openSinkCfg(t, cfg) // for reading the container
	n := p.checkAgainstSim(t, s)
	t.Logf("%d live records compared field by field with sfsim", n)
	if t.Failed() {
		return
	}
	want := allDocs(t, s)

	t.Run("replay_from_start_twice", func(t *testing.T) {
		for i := 1; i <= 2; i++ {
			before := testutil.ToFloat64(m.Changes.WithLabelValues("stale"))
			if d := p.runSink(t, newSink(cfg), fmt.Sprintf("%s.replay%d", p.name, i), eo, nil); d != 0 {
				t.Errorf("replay %d: %d dead letters", i, d)
			}
			stale := testutil.ToFloat64(m.Changes.WithLabelValues("stale")) - before
			t.Logf("replay %d: %v of %d records skipped as stale", i, stale, total)
			if got := allDocs(t, s); !sameDocs(t, want, got) {
				t.Fatalf("replay %d changed the documents", i)
			}
		}
	})

	t.Run("two_consumers_race_through_rebalances", func(t *testing.T) {
		cfg2 := srv.testConfig(containerName(t))
		cfg2.Concurrency = 4 // slower, so the rebalances land mid-stream
		a, b, c := newSink(cfg2), newSink(cfg2), newSink(cfg2)
		group := p.name + ".race"
		staleBefore := testutil.ToFloat64(m.Changes.WithLabelValues("stale"))
		conflictsBefore := testutil.ToFloat64(m.Retries.WithLabelValues("precondition"))
		// A replay of the whole topic in another group runs all along, so
		// every change also arrives a second time, at no fixed distance.
		stopC := p.startSink(t, c, group+".replay", nil)
		stopA := p.startSink(t, a, group, nil)
		time.Sleep(300 * time.Millisecond)
		stopB := p.startSink(t, b, group, nil) // joins: partitions move to it
		time.Sleep(700 * time.Millisecond)
		stopA() // leaves: its partitions move back to b
		p.waitCommitted(t, group, eo)
		p.waitCommitted(t, group+".replay", eo)
		stopB()
		stopC()
		t.Logf("race: %v changes found already applied by another consumer, %v writes lost a race and were redone",
			testutil.ToFloat64(m.Changes.WithLabelValues("stale"))-staleBefore,
			testutil.ToFloat64(m.Retries.WithLabelValues("precondition"))-conflictsBefore)
		if d := p.dlqCount(t); d != 0 {
			t.Errorf("%d dead letters", d)
		}
		read := openSinkCfg(t, cfg2)
		if !sameDocs(t, want, allDocs(t, read)) {
			t.Fatal("the raced container differs from the first one")
		}
		p.checkAgainstSim(t, read)
	})
}

// sameDocs compares two containers' documents: Salesforce fields and the
// version (the Kafka source of the last write may differ).
func sameDocs(t *testing.T, want, got map[string]map[string]any) bool {
	t.Helper()
	ok := true
	if len(want) != len(got) {
		t.Errorf("%d documents; want %d", len(got), len(want))
		ok = false
	}
	n := 0
	for id, w := range want {
		g := got[id]
		if g == nil {
			ok = false
			if n++; n <= 5 {
				t.Errorf("document %s missing", id)
			}
			continue
		}
		wm, gm := metaOf(t, w), metaOf(t, g)
		if diff := diffDocs(w, g); diff != "" || wm.version != gm.version {
			ok = false
			if n++; n <= 5 {
				t.Errorf("document %s: %s; version %+v, want %+v", id, diff, gm.version, wm.version)
			}
		}
	}
	return ok
}

// diffDocs describes how two documents' Salesforce fields differ.
func diffDocs(want, got map[string]any) string {
	var diffs []string
	for _, k := range slices.Collect(maps.Keys(want)) {
		if _, ok := got[k]; !ok {
			got[k] = nil
		}
	}
	for k, g := range got {
		if k == metaField {
			continue
		}
		if a, b := norm(want[k]), norm(g); a != b {
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", k, b, a))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}
