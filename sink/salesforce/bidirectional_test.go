package salesforce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/sink/cosmos"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
	"github.com/sfconnect/sfconnect/source"
)

// The bidirectional scenario's size.
const (
	bidiRecords  = 200
	bidiSFEdits  = 1000
	bidiWebEdits = 1000
)

// version is one side's view of a record: name and phone, and when they
// were set.
type version struct {
	name, phone string
	at          time.Time
}

// webSide is the web application's state: its own edits, and Salesforce's
// changes as the source streams them, each record last-writer-wins by the
// time of the change.
type webSide struct {
	mu   sync.Mutex
	recs map[string]version // by external id
}

func (w *webSide) apply(ext string, v version, fromSalesforce bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur, ok := w.recs[ext]
	switch {
	case !ok, v.at.After(cur.at):
		w.recs[ext] = v
	case !fromSalesforce && v.at.Equal(cur.at):
		// A tie goes to the web application, as in the sink
		// (last_writer_wins drops a change only for a strictly later edit).
		w.recs[ext] = v
	}
}

// webChange is one change the web application made.
type webChange struct {
	ext, key string
	at       time.Time
}

// TestBidirectional_SourceAndSink runs the source and the sink together on
// the real broker against one simulated org: 1,000 edits made in
// Salesforce by a person while the web application makes 1,000 edits of its
// own, some to the record Salesforce just edited, a few milliseconds apart.
// The sink writes the web-app edits back once the Salesforce edits are
// done, so which of them lose is known exactly: those made before the
// record's last Salesforce edit. At the end:
//   - Salesforce and the web application's state agree on every record;
//   - the conflicts topic holds exactly the web-app edits that lost;
//   - no change the sink made reached the web application through the
//     source: the loop filter dropped every echo (and there were echoes).
func TestBidirectional_SourceAndSink(t *testing.T) { runBidirectional(t, false) }

// TestBidirectional_SourceCosmosAndSink is the same run with the Cosmos DB
// sink applying the source's topic to a container, the web application's
// read model. The source tags the sink's echoes instead of dropping them
// (SOURCE_LOOP_ACTION=tag): the Cosmos sink applies every change, so the
// container holds what Salesforce holds, while the web application's own
// consumer ignores tagged events. At the end Salesforce, the Cosmos
// documents and the web application's state agree on every record, the
// conflicts topic holds exactly the losing edits, every echo was tagged and
// none reached the web application.
func TestBidirectional_SourceCosmosAndSink(t *testing.T) { runBidirectional(t, true) }

func runBidirectional(t *testing.T, withCosmos bool) {
	c := kafkatest.Real(t)
	if c == nil {
		t.Skip("needs the real Kafka broker (TEST_KAFKA_BROKERS; make test starts one and requires it)")
	}
	sim := newSim(t)
	cfg := baseConfig()
	prefix := kafkatest.Topic(t, "bidi")
	webTopic, conflictsTopic := prefix+".webapp", prefix+".conflicts"
	c.CreateTopic(t, webTopic, 3, nil)
	c.CreateTopic(t, conflictsTopic, 1, nil)

	// Seed: records a person created in Salesforce.
	exts := make([]string, bidiRecords)
	err := sim.TransactionAs(otherUser, func(tx *sfsim.Tx) error {
		for i := range exts {
			exts[i] = fmt.Sprintf("bidi-%03d", i)
			if _, err := tx.Create("Account", map[string]any{"External_Id__c": exts[i], "Name": "seed", "Phone": "seed"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idToExt := map[string]string{}
	for ext, r := range byExternalID(t, sim, "Account") {
		idToExt[r["Id"].(string)] = ext
	}

	// The source streams Account changes, dropping the sink's own.
	srcReg := prometheus.NewRegistry()
	loopAction := source.LoopDrop
	if withCosmos {
		loopAction = source.LoopTag
	}
	stopSource := startSource(t, c, sim, prefix, cfg.ClientID, loopAction, srcReg)
	defer stopSource()
	srcTopic := prefix + ".Account"
	var cosmosSrv *cosmosServer
	if withCosmos {
		cosmosSrv = startCosmos(t)
		stopCosmos := startCosmosSink(t, c, cosmosSrv, prefix, srcTopic)
		defer stopCosmos()
	}

	// Phase 1: Salesforce and the web application edit at the same time.
	web := &webSide{recs: map[string]version{}}
	var lastSF atomic.Value // external id Salesforce edited last
	lastSF.Store(exts[0])
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 1))
		for i := range bidiSFEdits {
			ext := exts[rng.IntN(len(exts))]
			id := byExternalIDCached(sim, ext)
			v := fmt.Sprintf("sf-%d", i)
			if err := sim.TransactionAs(otherUser, func(tx *sfsim.Tx) error {
				return tx.Update("Account", id, map[string]any{"Name": v, "Phone": v})
			}); err != nil {
				t.Errorf("Salesforce edit: %v", err)
				return
			}
			lastSF.Store(ext)
			// Faster than the web application: Salesforce's edits end
			// about halfway through the web application's, so that some
			// of those win and some lose.
			time.Sleep(time.Millisecond)
		}
	}()
	var changes []webChange
	producer := c.Client(t)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 2))
		for j := range bidiWebEdits {
			ext := exts[rng.IntN(len(exts))]
			if rng.IntN(10) < 3 {
				ext = lastSF.Load().(string) // the record Salesforce just edited
			}
			at := time.Now().Truncate(time.Millisecond)
			v := fmt.Sprintf("web-%d", j)
			chg := update("customer", ext, map[string]any{"name": v, "phone": v}, at)
			chg["idempotency_key"] = fmt.Sprintf("web-%d", j)
			b, _ := json.Marshal(chg)
			producer.Produce(context.Background(), &kgo.Record{Topic: webTopic, Key: []byte(ext), Value: b}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
			web.apply(ext, version{name: v, phone: v, at: at}, false) // the web app's own write
			changes = append(changes, webChange{ext: ext, key: fmt.Sprintf("web-%d", j), at: at})
			time.Sleep(3 * time.Millisecond)
		}
	}()
	wg.Wait()
	if err := producer.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Which web-app edits must lose: those made before the record's last
	// Salesforce edit (last_writer_wins; Kafka order keeps a record's
	// later edits after its earlier ones).
	lastEdit := map[string]time.Time{}
	for ext, r := range byExternalID(t, sim, "Account") {
		lm, err := time.Parse("2006-01-02T15:04:05.000-0700", r["LastModifiedDate"].(string))
		if err != nil || r["LastModifiedById"] != otherUser {
			t.Fatalf("record %s: LastModifiedDate %v by %v", ext, r["LastModifiedDate"], r["LastModifiedById"])
		}
		lastEdit[ext] = lm
	}
	wantLost := map[string]bool{}
	near, ties := 0, 0
	for _, ch := range changes {
		if lastEdit[ch.ext].Equal(ch.at) {
			ties++
		}
		if lastEdit[ch.ext].After(ch.at) {
			wantLost[ch.key] = true
		}
		if d := lastEdit[ch.ext].Sub(ch.at); d > -10*time.Millisecond && d < 10*time.Millisecond {
			near++
		}
	}
	t.Logf("%d web-app edits must lose; %d were made within 10 ms of their record's last Salesforce edit, %d in the same millisecond",
		len(wantLost), near, ties)
	if len(wantLost) == 0 || len(wantLost) == len(changes) || near == 0 {
		t.Fatalf("the scenario has %d losers and %d near-simultaneous edits; it should have some of each", len(wantLost), near)
	}

	// Phase 2: the sink writes the web-app edits back.
	sinkReg := prometheus.NewRegistry()
	stopSink := startSink(t, c, sim, cfg, webTopic, conflictsTopic, sinkReg)
	defer stopSink()
	waitConsumed(t, c, "sfconnect-bidi-sink-"+prefix, webTopic, bidiWebEdits, 2*time.Minute)

	// The source streams every Salesforce edit to the web application, and
	// nothing else: the sink's writes are dropped, or tagged, as echoes.
	wantSource := bidiRecords + bidiSFEdits
	readAllCommitted(t, c, srcTopic, wantSource, 2*time.Minute)
	eventually(t, time.Minute, "the source recognised the sink's echoes", func() bool {
		return gathered(t, srcReg, "sfconnect_source_loop_events_total") > 0
	})
	time.Sleep(2 * time.Second) // let any straggler echo arrive before checking there is none
	recs := readMore(t, c, srcTopic, 0, 3*time.Second)
	loopEvents := gathered(t, srcReg, "sfconnect_source_loop_events_total")
	echoes, tagged, toWeb := 0, 0, 0
	for _, r := range recs {
		var env source.Envelope
		if err := json.Unmarshal(r.Value, &env); err != nil {
			t.Fatal(err)
		}
		if env.Header == nil || env.RecordID == nil {
			t.Fatalf("source record without header: %s", r.Value)
		}
		ours := strings.Contains(env.Header.ChangeOrigin, "client="+cfg.ClientID)
		switch {
		case env.LoopTagged && ours:
			tagged++ // the web application's consumer skips it
			continue
		case env.LoopTagged || ours || env.Header.CommitUser != otherUser:
			echoes++ // an echo not recognised, or a change that is not the person's
			continue
		}
		toWeb++
		lm, err := time.Parse(time.RFC3339Nano, fmt.Sprint(env.Fields["LastModifiedDate"]))
		if err != nil {
			t.Fatalf("source record without LastModifiedDate: %s", r.Value)
		}
		web.apply(idToExt[*env.RecordID], version{name: fmt.Sprint(env.Fields["Name"]), phone: fmt.Sprint(env.Fields["Phone"]), at: lm}, true)
	}
	if echoes != 0 {
		t.Errorf("%d of the sink's own changes reached the web application", echoes)
	}
	if toWeb != wantSource {
		t.Errorf("the web application got %d changes from the source; want %d (seed and Salesforce edits)", toWeb, wantSource)
	}
	if withCosmos && float64(tagged) != loopEvents {
		t.Errorf("%d tagged echoes in the topic, the source counted %v", tagged, loopEvents)
	}
	if !withCosmos && tagged != 0 {
		t.Errorf("%d tagged records with loop action drop", tagged)
	}
	t.Logf("source: %d records, %d to the web application, %v echoes recognised (%d tagged in the topic)", len(recs), toWeb, loopEvents, tagged)

	// Salesforce and the web application agree on every record.
	final := byExternalID(t, sim, "Account")
	disagree := 0
	for _, ext := range exts {
		w, s := web.recs[ext], final[ext]
		if s["Name"] != w.name || s["Phone"] != w.phone {
			disagree++
			if disagree <= 5 {
				t.Errorf("%s: Salesforce has %v/%v, the web application %s/%s", ext, s["Name"], s["Phone"], w.name, w.phone)
			}
		}
	}
	if disagree > 0 {
		t.Errorf("%d of %d records disagree", disagree, len(exts))
	}

	// The Cosmos documents hold what Salesforce holds.
	if withCosmos {
		waitConsumed(t, c, "sfconnect-bidi-cosmos-"+prefix, srcTopic, len(recs), 2*time.Minute)
		docs := cosmosDocs(t, cosmosSrv, "sfconnect", "bidi")
		bad := 0
		for _, ext := range exts {
			s := final[ext]
			d := docs[s["Id"].(string)]
			if d == nil || d["Name"] != s["Name"] || d["Phone"] != s["Phone"] {
				bad++
				if bad <= 5 {
					t.Errorf("%s: Salesforce has %v/%v, Cosmos %v/%v", ext, s["Name"], s["Phone"], d["Name"], d["Phone"])
				}
			}
		}
		if bad > 0 || len(docs) != len(exts) {
			t.Errorf("%d of %d records differ between Salesforce and Cosmos (%d documents)", bad, len(exts), len(docs))
		}
	}

	// The conflicts topic holds exactly the edits that lost.
	got := map[string]bool{}
	for _, r := range readMore(t, c, conflictsTopic, 0, 3*time.Second) {
		for _, h := range r.Headers {
			if h.Key == sfsink.HeaderConflictIdempotencyKey {
				got[string(h.Value)] = true
			}
		}
	}
	missing, extra := 0, 0
	for k := range wantLost {
		if !got[k] {
			missing++
		}
	}
	for k := range got {
		if !wantLost[k] {
			extra++
		}
	}
	if missing > 0 || extra > 0 {
		t.Errorf("conflicts topic: %d losing edits missing, %d edits that did not lose present (want %d, got %d)", missing, extra, len(wantLost), len(got))
	}
	t.Logf("conflicts: %d recorded, %d expected; sink API calls %v", len(got), len(wantLost), gathered(t, sinkReg, "sfconnect_salesforce_sink_api_calls_total"))
}

var idCache sync.Map // external id -> Id, for the Salesforce editor

// byExternalIDCached returns the Id of the Account with external id ext.
func byExternalIDCached(sim *sfsim.Sim, ext string) string {
	if id, ok := idCache.Load(sim.URL() + ext); ok {
		return id.(string)
	}
	recs, _ := sim.Records("Account")
	for _, r := range recs {
		if e, _ := r["External_Id__c"].(string); e != "" {
			idCache.Store(sim.URL()+e, r["Id"])
		}
	}
	id, _ := idCache.Load(sim.URL() + ext)
	s, _ := id.(string)
	return s
}

// startSource runs the Salesforce source on the real broker, writing
// Account changes to <prefix>.Account and dropping or tagging (loopAction)
// changes made with clientID. It returns a stop function.
func startSource(t *testing.T, c *kafkatest.Cluster, sim *sfsim.Sim, prefix, clientID, loopAction string, reg prometheus.Registerer) func() {
	t.Helper()
	rest, tokens := restClient(t, sim, "")
	hc, err := authConfig(t, sim).HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := source.Config{
		Channels: []string{"/data/AccountChangeEvent"}, Transport: source.TransportPubSub, PubSubEndpoint: sim.GRPCAddr(),
		Appetite: 100, InitialReplay: source.ReplayEarliest, OnInvalidReplay: source.ReplayFail, ResyncBuffer: time.Minute,
		TopicTemplate: prefix + ".{entity}", LoopClientIDs: []string{clientID}, LoopAction: loopAction, GapRepair: true,
	}
	name := "bidi-source-" + prefix[len(prefix)-8:]
	conn, err := source.New(ctx, cfg, source.Deps{Connector: name, Tokens: tokens, HTTPClient: hc, APIVersion: "62.0", REST: rest,
		Metrics: source.NewMetrics(reg, name)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	rcfg := connectorlib.SourceConfig{
		Name: name, StreamGroup: "0", DeliveryMode: connectorlib.DeliveryAuto, MaxInFlight: 10000,
		OffsetsTopic: prefix + ".offsets", OffsetFlushInterval: 50 * time.Millisecond, TransactionTimeout: 10 * time.Second,
		TransactionMaxRecords: 5000, TransactionLinger: 2 * time.Millisecond,
		TopicAutoCreate: true, TopicPartitions: 3, TopicReplication: -1, ShutdownTimeout: 10 * time.Second, RestartBackoffMax: time.Second,
	}
	done := make(chan error, 1)
	go func() {
		done <- connectorlib.NewSourceRunner(rcfg, conn.Factory(), connectorlib.Deps{Kafka: c.Opts()}).Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("source runner: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("source runner did not stop")
			}
			_ = conn.Close()
			hc.CloseIdleConnections()
		})
	}
	t.Cleanup(stop)
	return stop
}

// startSink runs the Salesforce sink under the runner on the real broker,
// with conflicts produced to conflictsTopic. It returns a stop function.
func startSink(t *testing.T, c *kafkatest.Cluster, sim *sfsim.Sim, cfg sfsink.Config, topic, conflictsTopic string, reg prometheus.Registerer) func() {
	t.Helper()
	rest, tokens := restClient(t, sim, cfg.ClientID)
	producer := c.Client(t)
	name := "bidi-sink"
	sink, err := sfsink.New(cfg, sfsink.Deps{Connector: name, REST: rest, Tokens: tokens,
		Conflicts: sfsink.KafkaConflicts{Client: producer, Topic: conflictsTopic}, Metrics: sfsink.NewMetrics(reg, name)})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := sinkRunnerConfig(name, topic)
	rcfg.Group = "sfconnect-bidi-sink-" + strings.TrimSuffix(topic, ".webapp")
	rcfg.DLQTopic = strings.TrimSuffix(topic, ".webapp") + ".dlq"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- connectorlib.NewSinkRunner(rcfg, sink, connectorlib.Deps{Kafka: c.Opts()}).Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sink runner: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("sink runner did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitConsumed waits until group has committed every one of the n records
// of topic.
func waitConsumed(t *testing.T, c *kafkatest.Cluster, group, topic string, n int, within time.Duration) {
	t.Helper()
	adm := c.Admin(t)
	eventually(t, within, fmt.Sprintf("group %s committed %d records of %s", group, n, topic), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil {
				sum += o.At
			}
		})
		return sum >= int64(n)
	})
}

// readAllCommitted reads n committed records of topic from its start.
func readAllCommitted(t testing.TB, c *kafkatest.Cluster, topic string, n int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s in %v", len(out), n, topic, within)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// readMore reads the committed records of topic after the first skip, for
// d.
func readMore(t testing.TB, c *kafkatest.Cluster, topic string, skip int, d time.Duration) []*kgo.Record {
	t.Helper()
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	if skip > len(out) {
		return nil
	}
	return out[skip:]
}

// gathered returns the sum of a counter's samples in reg.
func gathered(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// startCosmosSink runs the Cosmos DB sink under the runner on the real
// broker, applying topic to the container sfconnect/bidi. It returns a stop
// function.
func startCosmosSink(t *testing.T, c *kafkatest.Cluster, srv *cosmosServer, prefix, topic string) func() {
	t.Helper()
	cfg := cosmos.Config{
		Endpoint: srv.endpoint, Key: cosmosKey, CAFile: srv.caFile, Database: "sfconnect", Container: "bidi", CreateIfMissing: true,
		PartitionKey: "/id", WriteStrategy: cosmos.StrategyOverwrite, IDTemplate: "{id}", DeleteMode: cosmos.DeleteHard,
		DocumentCache: 10000, Concurrency: 16, RequestTimeout: 10 * time.Second, RetryMaxAttempts: 8,
		RetryInitial: 100 * time.Millisecond, ThrottleMaxWait: 2 * time.Minute,
	}
	sink, err := cosmos.New(cfg, cosmos.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := sinkRunnerConfig("bidi-cosmos", topic)
	rcfg.Group = "sfconnect-bidi-cosmos-" + prefix
	rcfg.DLQTopic = prefix + ".cosmos-dlq"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- connectorlib.NewSinkRunner(rcfg, sink, connectorlib.Deps{Kafka: c.Opts()}).Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("cosmos sink runner: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("cosmos sink runner did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
