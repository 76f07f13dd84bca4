package source

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// corruptingStream is a Pub/Sub stream whose event at replay id target
// arrives with half its payload, as a corrupt event would: sfsim only ever
// sends events that decode.
type corruptingStream struct {
	*pubsubStream
	target []byte
}

func (c *corruptingStream) next(ctx context.Context) ([]connectorlib.Record, error) {
	b, err := c.sub.Recv(ctx)
	if err != nil {
		return nil, mapPubSubErr(err)
	}
	for i := range b.Events {
		if bytes.Equal(b.Events[i].ReplayID, c.target) {
			b.Events[i].Payload = b.Events[i].Payload[:len(b.Events[i].Payload)/2]
		}
	}
	return c.batch(ctx, b)
}

// TestSource_UndecodableEvent_DeadLettered runs the source into Kafka with
// one corrupt change event among good ones: it goes to the dead-letter
// topic with its raw bytes and the reason, at its own position, and the
// stream goes on.
func TestSource_UndecodableEvent_DeadLettered(t *testing.T) {
	t.Parallel()
	sim, err := sfsim.New(sfsim.Plaintext(), sfsim.StreamTimeouts(10*time.Second, 300*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	c := kafkatest.NewFake(t)
	create := func(name string) int64 {
		t.Helper()
		if _, err := sim.Create("Account", map[string]any{"Name": name}); err != nil {
			t.Fatal(err)
		}
		return sim.LatestReplayID()
	}
	create("good-1")
	target := pubsub.EncodeReplayID(create("corrupt"))
	create("good-2")

	auth := salesforce.AuthConfig{LoginURL: sim.URL(), Flow: salesforce.FlowClientCredentials,
		ClientID: sfsim.DefaultClientID, ClientSecret: sfsim.DefaultClientSecret}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	name := kafkatest.Topic(t, "dlq")
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg, name)
	cfg := Config{
		Channels: []string{"/data/AccountChangeEvent"}, Transport: TransportPubSub, PubSubEndpoint: sim.GRPCAddr(),
		PubSubPlaintext: true, Appetite: 100, InitialReplay: ReplayEarliest, OnInvalidReplay: ReplayFail,
		ResyncBuffer: time.Minute, TopicTemplate: "salesforce.{entity}", LoopAction: LoopDrop, GapRepair: true,
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := New(ctx, cfg, Deps{Connector: name, Tokens: tokens, HTTPClient: hc, APIVersion: "62.0", Metrics: metrics,
		REST: salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: "62.0"})})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	factory := func() (connectorlib.Source, error) {
		src, err := conn.Factory()()
		if err != nil {
			return nil, err
		}
		s := src.(*Source)
		open := s.open
		s.open = func(ctx context.Context, channel string, from connectorlib.Position, initial string) (stream, error) {
			st, err := open(ctx, channel, from, initial)
			if err != nil {
				return nil, err
			}
			return &corruptingStream{pubsubStream: st.(*pubsubStream), target: target}, nil
		}
		return s, nil
	}
	done := make(chan error, 1)
	go func() {
		done <- connectorlib.NewSourceRunner(connectorlib.SourceConfig{
			Name: name, StreamGroup: "0", DeliveryMode: connectorlib.DeliveryExactlyOnce, MaxInFlight: 10000,
			OffsetFlushInterval: 50 * time.Millisecond, TransactionTimeout: 10 * time.Second,
			TopicAutoCreate: true, TopicPartitions: 1, TopicReplication: -1,
			ShutdownTimeout: 10 * time.Second, RestartBackoffMax: time.Second,
		}, factory, connectorlib.Deps{Kafka: c.Opts()}).Run(ctx)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
		_ = conn.Close()
		hc.CloseIdleConnections()
	}
	t.Cleanup(stop)

	// The stream goes on after the corrupt event.
	create("good-3")
	names := map[string]int{}
	for _, r := range readTopic(t, c, "salesforce.Account", 3) {
		var env Envelope
		if err := json.Unmarshal(r.Value, &env); err != nil {
			t.Fatal(err)
		}
		names[env.Fields["Name"].(string)]++
	}
	if len(names) != 3 || names["good-1"] != 1 || names["good-2"] != 1 || names["good-3"] != 1 {
		t.Fatalf("Account records by name: %v; want good-1, good-2 and good-3 once", names)
	}

	dl := readTopic(t, c, conn.DLQTopic(), 1)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	r := dl[0]
	hs := map[string]string{}
	for _, h := range r.Headers {
		hs[h.Key] = string(h.Value)
	}
	if string(r.Key) != hex.EncodeToString(target) || hs[HeaderReplayID] != hex.EncodeToString(target) ||
		hs[HeaderChannel] != "/data/AccountChangeEvent" || hs[HeaderSchemaID] == "" ||
		hs[HeaderDLQClass] != string(connectorlib.ClassPermanent) || hs[HeaderDLQReason] == "" {
		t.Fatalf("dead letter key %q, headers %v", r.Key, hs)
	}
	if len(r.Value) == 0 {
		t.Fatal("the dead letter lacks the event's raw bytes")
	}
	if reason := hs[HeaderDLQReason]; !strings.Contains(reason, "decode") || !strings.Contains(reason, hex.EncodeToString(target)) {
		t.Fatalf("dead letter reason %q does not say which event failed to decode", reason)
	}
	for _, m := range []string{"sfconnect_source_dead_letters_total", "sfconnect_source_decode_errors_total"} {
		if got := counter(t, reg, m); got != 1 {
			t.Fatalf("%s = %v, want 1", m, got)
		}
	}
	stop()
}

// counter returns the sum of a counter's series in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// readTopic reads topic (read committed) until it holds at least want
// records, then once more after a pause for stragglers.
func readTopic(t *testing.T, c *kafkatest.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	read := func() ([]*kgo.Record, error) {
		var out []*kgo.Record
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := kafkaio.ReadCommitted(ctx, c.Admin(t), c.Opts(), topic, 5*time.Second, func(r *kgo.Record) error {
			out = append(out, r)
			return nil
		})
		return out, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := read()
		if err == nil && len(out) >= want {
			time.Sleep(300 * time.Millisecond)
			if out, err = read(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("topic %s: %d records (err %v), want %d", topic, len(out), err, want))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOriginClient parses change origins as the loop prevention ADR says;
// matching against the configured ids is then exact.
func TestOriginClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ origin, want string }{
		{"com/salesforce/api/rest/62.0;client=sfconnect", "sfconnect"},
		{"com/salesforce/api/soap/62.0;client=Workbench/", "Workbench"},
		{"com/salesforce/api/rest/62.0; client=sfconnect ", "sfconnect"},
		{"com/salesforce/api/rest/62.0;defaultNamespace=ns,client=webapp", "webapp"},
		{"com/salesforce/api/rest/62.0;client=sfconnect-other;x=y", "sfconnect-other"},
		{"com/salesforce/api/rest/62.0", ""},
		{"com/salesforce/api/rest/62.0;notclient=x", ""},
		{"com/salesforce/api/rest/62.0;;, ;client=c", "c"},
		{"com/salesforce/api/rest/62.0;client=", ""},
		{"com/salesforce/api/rest/62.0;client=é,x", "é"},
		{"a;b;client=x;client=y", "x"},
		{"", ""},
	} {
		if got := originClient(tc.origin); got != tc.want {
			t.Errorf("originClient(%q) = %q, want %q", tc.origin, got, tc.want)
		}
	}
}

// TestRestFields_NamedLikeChangeEvents checks that a record read back
// through REST (gap repair, resync, snapshot) gets the field names and
// value types change events have: compound components flattened with a
// dot, numbers as numbers, datetimes in UTC with a Z.
func TestRestFields_NamedLikeChangeEvents(t *testing.T) {
	t.Parallel()
	sim, err := sfsim.New(sfsim.Plaintext())
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	d, ok := sim.Describe("Contact")
	if !ok {
		t.Fatal("no Contact describe")
	}
	fields := queryableFields(d.Fields)
	for _, f := range fields {
		if f == "Name" || f == "MailingAddress" {
			t.Fatalf("queryable fields %v include the compound %s (its components are read instead)", fields, f)
		}
	}
	got := restFields(map[string]any{
		"attributes": map[string]any{"type": "Contact"},
		"Id":         "0038a0000000001AAA", "FirstName": "Ada", "LastName": "Lovelace", "MailingCity": "London",
		"MailingLatitude": json.Number("51.5"), "CreatedDate": "2026-11-23T16:10:11.184+0000", "Email": nil,
	}, d)
	want := map[string]any{
		"Id": "0038a0000000001AAA", "Name.FirstName": "Ada", "Name.LastName": "Lovelace", "MailingAddress.City": "London",
		"MailingAddress.Latitude": 51.5, "CreatedDate": "2026-11-23T16:10:11.184Z", "Email": nil,
	}
	if len(got) != len(want) {
		t.Fatalf("restFields = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if n := restFields(map[string]any{"NumberOfEmployees": json.Number("42")}, nil)["NumberOfEmployees"]; n != int64(42) {
		t.Errorf("an integer without a describe is %#v, want int64 42", n)
	}
}
