package source_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// The fault tests stream /data/AccountChangeEvent into salesforce.Account
// and identify each change by the distinct Name its Account is created
// with: every name must arrive exactly once (exactly_once on kfake).
const (
	accountChannel = "/data/AccountChangeEvent"
	accountTopic   = "salesforce.Account"
)

// faultEnv is a simulated org with short stream timers (keepalives every
// 300 ms, CometD long polls of 1 s) and a runner's metrics and logs.
type faultEnv struct {
	*env
	c   *kafkatest.Cluster
	reg *prometheus.Registry
	log *syncBuffer
}

func newFaultEnv(t *testing.T, opts ...sfsim.Opt) *faultEnv {
	t.Helper()
	c := kafkatest.NewFake(t)
	opts = append([]sfsim.Opt{sfsim.StreamTimeouts(10*time.Second, 300*time.Millisecond, time.Second)}, opts...)
	return &faultEnv{env: newEnv(t, c, opts...), c: c}
}

// start runs the source with fresh metrics and logs (the previous run's
// are replaced).
func (f *faultEnv) start(t *testing.T, cfg source.Config) *running {
	t.Helper()
	f.reg, f.log = prometheus.NewRegistry(), &syncBuffer{}
	return f.env.start(t, cfg, connectorlib.DeliveryExactlyOnce, runOpts{
		metrics: source.NewMetrics(f.reg, f.name),
		logger:  slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// metric returns the value of a source metric for a channel (0 when it
// was never set).
func (f *faultEnv) metric(t *testing.T, name, channel string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() == channel {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// waitMetric waits until a metric of the channel reaches at least want.
func (f *faultEnv) waitMetric(t *testing.T, name, channel string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for f.metric(t, name, channel) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s{channel=%q} = %v, want at least %v", name, channel, f.metric(t, name, channel), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createAccounts creates n Accounts, each in its own transaction, named
// prefix-1 … prefix-n, and returns the names.
func createAccounts(t *testing.T, sim *sfsim.Sim, prefix string, n int) []string {
	t.Helper()
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := sim.Create("Account", map[string]any{"Name": name}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// accountEnvelopes reads salesforce.Account until it holds at least want
// records, lets stragglers (duplicates) arrive, and returns every envelope,
// validated and checked to be keyed by its record id.
func accountEnvelopes(t *testing.T, c *kafkatest.Cluster, want int) []source.Envelope {
	t.Helper()
	readEnvelopes(t, c, accountTopic, want)
	time.Sleep(300 * time.Millisecond)
	recs := readEnvelopes(t, c, accountTopic, want)
	out := make([]source.Envelope, 0, len(recs))
	for _, r := range recs {
		env := validate(t, r.Value)
		if env.RecordID == nil || string(r.Key) != *env.RecordID || len(r.Key) != 18 {
			t.Fatalf("record key %q, record id %v", r.Key, env.RecordID)
		}
		out = append(out, env)
	}
	return out
}

// createsByName counts the CHANGE CREATE envelopes by Account name.
func createsByName(envs []source.Envelope) map[string]int {
	out := map[string]int{}
	for _, e := range envs {
		if e.Kind == source.KindChange && e.ChangeType == "CREATE" {
			name, _ := e.Fields["Name"].(string)
			out[name]++
		}
	}
	return out
}

// expectOnce checks that every name was created exactly once in envs and
// that no other creates arrived.
func expectOnce(t *testing.T, envs []source.Envelope, names ...[]string) {
	t.Helper()
	got := createsByName(envs)
	want := map[string]bool{}
	for _, ns := range names {
		for _, n := range ns {
			want[n] = true
			if got[n] != 1 {
				t.Errorf("create of %s arrived %d times, want once", n, got[n])
			}
		}
	}
	for n, k := range got {
		if !want[n] {
			t.Errorf("unexpected create of %s (%d times)", n, k)
		}
	}
}

func count(names ...[]string) int {
	n := 0
	for _, ns := range names {
		n += len(ns)
	}
	return n
}

// alive fails t when the runner stopped on its own.
func alive(t *testing.T, r *running) {
	t.Helper()
	if r.stopped() {
		t.Fatalf("the runner stopped: %v", r.err)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSource_Faults_Streams injects stream faults while changes are made
// before, during and after them; each is recovered without loss or
// duplicates, and the runner keeps running.
func TestSource_Faults_Streams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		transport string // default pubsub
		fault     func(sim *sfsim.Sim)
		// reconnects is the least number of resubscriptions the fault causes.
		reconnects float64
	}{
		{name: "DropStreams", fault: func(sim *sfsim.Sim) { sim.DropStreams() }, reconnects: 1},
		{name: "ExpireTokens", fault: func(sim *sfsim.Sim) {
			// Running streams keep their session: drop them so that the
			// resubscription presents the expired token.
			sim.ExpireTokens()
			sim.DropStreams()
		}, reconnects: 1},
		{name: "Unavailable", fault: func(sim *sfsim.Sim) {
			sim.FailNext(sfsim.SurfacePubSub, 3, sfsim.Fault{Status: http.StatusServiceUnavailable, Message: "down for maintenance"})
			sim.DropStreams()
		}, reconnects: 4},
		{name: "SubscriptionLimitExceeded", fault: func(sim *sfsim.Sim) {
			sim.FailNext(sfsim.SurfacePubSub, 2, sfsim.Fault{Status: http.StatusTooManyRequests,
				ErrorCode: "sfdc.platform.eventbus.grpc.subscription.limit.exceeded", Message: "too many subscriptions"})
			sim.DropStreams()
		}, reconnects: 3},
		// The CometD client handshakes again by itself after 403::Unknown
		// client; HTTP errors reach the source, which resubscribes.
		{name: "CometD_DropStreams", transport: source.TransportCometD, fault: func(sim *sfsim.Sim) { sim.DropStreams() }},
		{name: "CometD_Unavailable", transport: source.TransportCometD, fault: func(sim *sfsim.Sim) {
			sim.FailNext(sfsim.SurfaceCometD, 3, sfsim.Fault{Status: http.StatusServiceUnavailable, Message: "down for maintenance"})
		}, reconnects: 1},
		{name: "CometD_ExpireTokens", transport: source.TransportCometD, fault: func(sim *sfsim.Sim) {
			sim.ExpireTokens()
			sim.DropStreams()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFaultEnv(t)
			cfg := baseConfig(f.env, accountChannel)
			if tc.transport != "" {
				cfg.Transport = tc.transport
			}
			r := f.start(t, cfg)
			before := createAccounts(t, f.sim, "before", 5)
			accountEnvelopes(t, f.c, len(before))
			tc.fault(f.sim)
			during := createAccounts(t, f.sim, "during", 5)
			f.waitMetric(t, "sfconnect_source_reconnects_total", accountChannel, tc.reconnects)
			after := createAccounts(t, f.sim, "after", 5)
			expectOnce(t, accountEnvelopes(t, f.c, count(before, during, after)), before, during, after)
			alive(t, r)
		})
	}
}

// TestSource_Faults_GapRepairBacksOffOnRequestLimit exhausts the org's API
// budget while a gap event needs a REST re-read: the source backs off
// (resubscribing from the gap event, which therefore holds its position)
// and repairs the gap once the budget is restored.
func TestSource_Faults_GapRepairBacksOffOnRequestLimit(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	r := f.start(t, baseConfig(f.env, accountChannel))
	before := createAccounts(t, f.sim, "before", 3)
	accountEnvelopes(t, f.c, len(before))
	id, err := f.sim.Create("Account", map[string]any{"Name": "gapped"})
	if err != nil {
		t.Fatal(err)
	}
	_, limit := f.sim.APIUsage()
	f.sim.SetAPIBudget(limit, limit)
	if err := f.sim.Update("Account", id, map[string]any{"Rating": "Warm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.InjectGap("Account", []string{id}, "GAP_UPDATE"); err != nil {
		t.Fatal(err)
	}
	during := createAccounts(t, f.sim, "during", 3)
	f.waitMetric(t, "sfconnect_source_reconnects_total", accountChannel, 2)
	if n := f.metric(t, "sfconnect_source_gap_repairs_total", accountChannel); n != 0 {
		t.Fatalf("%v gap repairs while the API budget is spent", n)
	}
	alive(t, r)
	f.sim.SetAPIBudget(0, limit)
	after := createAccounts(t, f.sim, "after", 3)
	// before, gapped, its update, the repair, during, after.
	envs := accountEnvelopes(t, f.c, count(before, during, after)+3)
	expectOnce(t, envs, before, during, after, []string{"gapped"})
	var repairs []source.Envelope
	for _, e := range envs {
		if e.Kind == source.KindGapRepair {
			repairs = append(repairs, e)
		}
	}
	if len(repairs) != 1 || *repairs[0].RecordID != id || repairs[0].ChangeType != "GAP_UPDATE" ||
		repairs[0].Fields["Rating"] != "Warm" || repairs[0].Fields["Name"] != "gapped" {
		t.Fatalf("gap repairs: %+v", repairs)
	}
	alive(t, r)
}

// TestSource_Faults_SchemaChange adds a field mid-stream: later events
// carry a new schema id, which the source fetches, and the new field.
func TestSource_Faults_SchemaChange(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	r := f.start(t, baseConfig(f.env, accountChannel))
	before := createAccounts(t, f.sim, "before", 3)
	accountEnvelopes(t, f.c, len(before))
	if err := f.sim.AddField("Account", salesforce.Field{Name: "Tier__c", Label: "Tier", Type: "string", Length: 20,
		Nillable: true, Createable: true, Updateable: true}); err != nil {
		t.Fatal(err)
	}
	var during []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("during-%d", i)
		if _, err := f.sim.Create("Account", map[string]any{"Name": name, "Tier__c": "gold"}); err != nil {
			t.Fatal(err)
		}
		during = append(during, name)
	}
	after := createAccounts(t, f.sim, "after", 3)
	envs := accountEnvelopes(t, f.c, count(before, during, after))
	expectOnce(t, envs, before, during, after)
	schemaIDs := map[string]string{}
	for _, e := range envs {
		name := e.Fields["Name"].(string)
		schemaIDs[name] = *e.SchemaID
		tier, has := e.Fields["Tier__c"]
		switch {
		case strings.HasPrefix(name, "before"):
			if has {
				t.Fatalf("%s, before the field existed, has Tier__c", name)
			}
		case strings.HasPrefix(name, "during"):
			if tier != "gold" {
				t.Fatalf("%s: Tier__c = %v, want gold (fields %v)", name, tier, e.Fields)
			}
		}
	}
	if schemaIDs["before-1"] == schemaIDs["during-1"] || schemaIDs["during-1"] != schemaIDs["after-1"] {
		t.Fatalf("schema ids: %v; want a new one from the field's addition on", schemaIDs)
	}
	alive(t, r)
}

// TestSource_Faults_InvalidReplay restarts the source at a stored replay id
// that has left the retention window, under each policy.
//
// The first run stores a position; while it is stopped, "lost" Accounts are
// created, the clock moves past the retention window (which purges them)
// and "kept" Accounts are created (retained). The second run starts at the
// purged position.
func TestSource_Faults_InvalidReplay(t *testing.T) {
	t.Parallel()
	const retention = time.Hour
	setup := func(t *testing.T, policy string, transport ...string) (f *faultEnv, cfg source.Config, before, lost, kept []string) {
		f = newFaultEnv(t, sfsim.Retention(retention))
		cfg = baseConfig(f.env, accountChannel)
		if len(transport) > 0 {
			cfg.Transport = transport[0]
		}
		r := f.start(t, cfg)
		before = createAccounts(t, f.sim, "before", 3)
		accountEnvelopes(t, f.c, len(before))
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		lost = createAccounts(t, f.sim, "lost", 3)
		f.sim.AdvanceClock(retention + time.Minute)
		kept = createAccounts(t, f.sim, "kept", 3)
		cfg.OnInvalidReplay = policy
		return f, cfg, before, lost, kept
	}

	for _, transport := range []string{source.TransportPubSub, source.TransportCometD} {
		t.Run("fail/"+transport, func(t *testing.T) {
			t.Parallel()
			f, cfg, before, _, _ := setup(t, source.ReplayFail, transport)
			r := f.start(t, cfg)
			err := r.wait(t, 20*time.Second)
			if err == nil || connectorlib.IsRetryable(err) {
				t.Fatalf("runner returned %v; want a permanent error", err)
			}
			salesforceSays := "replayid.corrupted" // the Pub/Sub error code
			if transport == source.TransportCometD {
				salesforceSays = "400::The replayId"
			}
			// The stream, the stored replay id (hex) and Salesforce's words.
			for _, want := range []string{"SFCONNECT_SOURCE_ON_INVALID_REPLAY", accountChannel, "stored replay id 00000000000000", salesforceSays} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
			if code := connectorlib.Code(err); code != "INVALID_REPLAY" {
				t.Errorf("error code %q, want INVALID_REPLAY", code)
			}
			// Under fail the error is the only log line (the process logs
			// it once when it exits); the occurrence is counted.
			if n := f.invalidReplays(t, source.ReplayFail); n != 1 {
				t.Errorf("sfconnect_source_invalid_replay_total{policy=fail} = %v, want 1", n)
			}
			if logs := f.log.String(); strings.Contains(logs, "no longer available") {
				t.Errorf("fail logged as well as returned the error: %s", logs)
			}
			// Nothing was read: the topic holds the first run's records only.
			expectOnce(t, accountEnvelopes(t, f.c, len(before)), before)
		})

		t.Run("earliest/"+transport, func(t *testing.T) {
			t.Parallel()
			f, cfg, before, _, kept := setup(t, source.ReplayEarliest, transport)
			r := f.start(t, cfg)
			f.waitMetric(t, "sfconnect_source_invalid_replay_total", accountChannel, 1)
			if n := f.invalidReplays(t, source.ReplayEarliest); n != 1 {
				t.Errorf("sfconnect_source_invalid_replay_total under %s = %v, want 1", source.ReplayEarliest, n)
			}
			after := createAccounts(t, f.sim, "after", 3)
			// The lost Accounts were purged: the oldest retained are the kept
			// ones.
			expectOnce(t, accountEnvelopes(t, f.c, count(before, kept, after)), before, kept, after)
			if logs := f.log.String(); !strings.Contains(logs, "policy=earliest") || !strings.Contains(logs, accountChannel) {
				t.Errorf("no warning names the channel and the policy: %s", logs)
			}
			alive(t, r)
		})
	}

	t.Run("latest", func(t *testing.T) {
		t.Parallel()
		f, cfg, before, _, _ := setup(t, source.ReplayLatest)
		r := f.start(t, cfg)
		f.waitMetric(t, "sfconnect_source_invalid_replay_total", accountChannel, 1)
		// A keepalive's position at the tip shows the LATEST subscription is
		// live: what is created from now on is delivered.
		f.waitMetric(t, "sfconnect_source_replay_position", accountChannel, float64(f.sim.LatestReplayID()))
		after := createAccounts(t, f.sim, "after", 3)
		// The kept Accounts were retained but skipped: counted and logged.
		expectOnce(t, accountEnvelopes(t, f.c, count(before, after)), before, after)
		if n := f.invalidReplays(t, source.ReplayLatest); n != 1 {
			t.Errorf("sfconnect_source_invalid_replay_total{policy=latest} = %v, want 1", n)
		}
		if logs := f.log.String(); !strings.Contains(logs, "policy=latest") || !strings.Contains(logs, accountChannel) {
			t.Errorf("no warning names the channel and the policy: %s", logs)
		}
		alive(t, r)
	})

	t.Run("resync", func(t *testing.T) {
		t.Parallel()
		f, cfg, before, lost, kept := setup(t, source.ReplayResync)
		if err := f.sim.Update("Account", accountID(t, f.sim, "lost-1"), map[string]any{"Rating": "Cold"}); err != nil {
			t.Fatal(err)
		}
		r := f.start(t, cfg)
		f.waitMetric(t, "sfconnect_source_invalid_replay_total", accountChannel, 1)
		if n := f.invalidReplays(t, source.ReplayResync); n != 1 {
			t.Errorf("sfconnect_source_invalid_replay_total under %s = %v, want 1", source.ReplayResync, n)
		}
		f.waitMetric(t, "sfconnect_source_replay_position", accountChannel, float64(f.sim.LatestReplayID()))
		after := createAccounts(t, f.sim, "after", 3)
		// Every Account changed while the source was away is re-read
		// (RESYNC, current state); streaming then goes on from the tip.
		envs := accountEnvelopes(t, f.c, count(before, after)+count(lost, kept))
		expectOnce(t, envs, before, after)
		resynced := map[string]source.Envelope{}
		for _, e := range envs {
			if e.Kind == source.KindResync {
				if e.ChangeType != "SNAPSHOT" || e.Header != nil || e.Entity != "Account" {
					t.Fatalf("resync envelope: %+v", e)
				}
				resynced[e.Fields["Name"].(string)] = e
			}
		}
		for _, n := range append(append([]string{}, lost...), kept...) {
			if _, ok := resynced[n]; !ok {
				t.Errorf("%s, changed while the source was away, was not resynced (resynced: %v)", n, len(resynced))
			}
		}
		if resynced["lost-1"].Fields["Rating"] != "Cold" {
			t.Errorf("resync of lost-1 is not its current state: %v", resynced["lost-1"].Fields)
		}
		alive(t, r)
	})
}

// invalidReplays returns sfconnect_source_invalid_replay_total of the
// Account channel under policy, failing the test if the channel has a
// series under another policy.
func (f *faultEnv) invalidReplays(t *testing.T, policy string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := -1.0
	for _, mf := range mfs {
		if mf.GetName() != "sfconnect_source_invalid_replay_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] != accountChannel {
				continue
			}
			if labels["policy"] != policy {
				t.Fatalf("invalid replay series with policy %q, want %q", labels["policy"], policy)
			}
			n = m.GetCounter().GetValue()
		}
	}
	if n < 0 {
		t.Fatalf("no sfconnect_source_invalid_replay_total series for %s", accountChannel)
	}
	return n
}

// accountID returns the id of the Account named name.
func accountID(t *testing.T, sim *sfsim.Sim, name string) string {
	t.Helper()
	recs, err := sim.Records("Account")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r["Name"] == name {
			return r["Id"].(string)
		}
	}
	t.Fatalf("no Account %s", name)
	return ""
}

// TestSource_Faults_GapEvents repairs gap events by re-reading the records:
// GAP_UPDATE gives the record's current state, GAP_DELETE of a deleted
// record a DELETE, and GAP_OVERFLOW a resync of the entity.
func TestSource_Faults_GapEvents(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	r := f.start(t, baseConfig(f.env, accountChannel))
	live, err := f.sim.Create("Account", map[string]any{"Name": "live", "Rating": "Hot", "BillingCity": "Lyon",
		"AnnualRevenue": 1250.5, "NumberOfEmployees": 42})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := f.sim.Create("Account", map[string]any{"Name": "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Delete("Account", gone); err != nil {
		t.Fatal(err)
	}
	// live-create, gone-create, gone-delete.
	accountEnvelopes(t, f.c, 3)
	if _, err := f.sim.InjectGap("Account", []string{live}, "GAP_UPDATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.InjectGap("Account", []string{gone}, "GAP_DELETE"); err != nil {
		t.Fatal(err)
	}
	envs := accountEnvelopes(t, f.c, 5)
	var repairs []source.Envelope
	for _, e := range envs {
		if e.Kind == source.KindGapRepair {
			repairs = append(repairs, e)
		}
	}
	if len(repairs) != 2 {
		t.Fatalf("%d gap repairs, want 2: %+v", len(repairs), repairs)
	}
	// The repair carries the record's current state with the field names
	// and value types of change events (numbers stay numbers, compound
	// components are flattened the same way).
	var created source.Envelope
	for _, e := range envs {
		if e.Kind == source.KindChange && e.ChangeType == "CREATE" && *e.RecordID == live {
			created = e
		}
	}
	if u := repairs[0]; *u.RecordID != live || u.ChangeType != "GAP_UPDATE" || u.Header == nil {
		t.Fatalf("GAP_UPDATE repair: %+v", u)
	}
	for _, k := range []string{"Name", "Rating", "BillingAddress.City", "AnnualRevenue", "NumberOfEmployees", "CreatedDate"} {
		if got, want := repairs[0].Fields[k], created.Fields[k]; got != want {
			t.Errorf("GAP_UPDATE repair: %s = %#v, the create had %#v", k, got, want)
		}
	}
	if d := repairs[1]; *d.RecordID != gone || d.ChangeType != "DELETE" || len(d.Fields) != 0 {
		t.Fatalf("GAP_DELETE repair: %+v", d)
	}
	if n := f.metric(t, "sfconnect_source_gap_repairs_total", accountChannel); n != 2 {
		t.Fatalf("sfconnect_source_gap_repairs_total = %v, want 2", n)
	}

	// Overflow: every live Account is re-read.
	others := createAccounts(t, f.sim, "other", 2)
	if _, err := f.sim.InjectOverflow("Account"); err != nil {
		t.Fatal(err)
	}
	after := createAccounts(t, f.sim, "after", 2)
	envs = accountEnvelopes(t, f.c, 5+len(others)+3+len(after))
	expectOnce(t, envs, []string{"live", "gone"}, others, after)
	resynced := map[string]bool{}
	for _, e := range envs {
		if e.Kind == source.KindResync {
			if e.Entity != "Account" || e.Header != nil || *e.RecordID == "000000000000000AAA" {
				t.Fatalf("overflow resync envelope: %+v", e)
			}
			resynced[*e.RecordID] = true
		}
	}
	// The resync reads the current state: the Accounts created after the
	// overflow event may be in it too.
	want := []string{live, accountID(t, f.sim, "other-1"), accountID(t, f.sim, "other-2")}
	for _, id := range want {
		if !resynced[id] {
			t.Fatalf("overflow resynced %v; want at least the live Accounts %v", resynced, want)
		}
	}
	if resynced[gone] {
		t.Fatalf("overflow resynced the deleted Account %s", gone)
	}
	alive(t, r)
}

// TestSource_Faults_LoopPrevention writes through REST as client webapp,
// which the source is configured to treat as its own writes.
func TestSource_Faults_LoopPrevention(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, f *faultEnv, name string) {
		t.Helper()
		tokens, err := salesforce.NewAuthenticator(f.auth)
		if err != nil {
			t.Fatal(err)
		}
		hc, err := f.auth.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		defer hc.CloseIdleConnections()
		cl := salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: "62.0", CallClientID: "webapp"})
		if err := cl.Do(context.Background(), http.MethodPost, "/sobjects/Account", map[string]any{"Name": name}, nil); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		cfg := baseConfig(f.env, accountChannel)
		cfg.LoopClientIDs, cfg.LoopAction = []string{"webapp"}, source.LoopDrop
		r := f.start(t, cfg)
		before := createAccounts(t, f.sim, "before", 2)
		accountEnvelopes(t, f.c, len(before))
		write(t, f, "echo")
		f.waitMetric(t, "sfconnect_source_loop_events_total", accountChannel, 1)
		// The echo's position was stored although nothing was written: the
		// next run does not read it again.
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		r = f.start(t, cfg)
		after := createAccounts(t, f.sim, "after", 2)
		expectOnce(t, accountEnvelopes(t, f.c, count(before, after)), before, after)
		if n := f.metric(t, "sfconnect_source_loop_events_total", accountChannel); n != 0 {
			t.Fatalf("the echo was read again after the restart (%v loop events)", n)
		}
		alive(t, r)
	})

	t.Run("tag", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		cfg := baseConfig(f.env, accountChannel)
		cfg.LoopClientIDs, cfg.LoopAction = []string{"webapp"}, source.LoopTag
		r := f.start(t, cfg)
		before := createAccounts(t, f.sim, "before", 2)
		write(t, f, "echo")
		after := createAccounts(t, f.sim, "after", 2)
		envs := accountEnvelopes(t, f.c, count(before, after)+1)
		expectOnce(t, envs, before, after, []string{"echo"})
		for _, e := range envs {
			tagged := e.Fields["Name"] == "echo"
			if e.LoopTagged != tagged {
				t.Fatalf("%v: loop_tagged %v", e.Fields["Name"], e.LoopTagged)
			}
			if tagged && (e.OriginClient == nil || *e.OriginClient != "webapp" || !strings.Contains(e.Header.ChangeOrigin, "client=webapp")) {
				t.Fatalf("echo: origin client %v, change origin %q", e.OriginClient, e.Header.ChangeOrigin)
			}
		}
		alive(t, r)
	})
}
