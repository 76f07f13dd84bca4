package cosmos

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

// TestSink_Runner_PoisonRecordsToDLQ runs the sink on the connectorlib
// runner over a topic holding poison records between good ones: invalid
// JSON, an unknown change type, and an UPDATE that would grow its document
// past 2 MB. Each lands in the dead-letter topic with its reason; every
// other change is applied, and the offsets are committed to the end.
func TestSink_Runner_PoisonRecordsToDLQ(t *testing.T) {
	srv := cosmosServer(t)
	c := kafkatest.Real(t)
	if c == nil {
		c = kafkatest.NewFake(t)
	}
	name := kafkatest.Topic(t, "cosmos-dlq")
	p := &pipeline{cluster: c, topic: name + ".Account", name: name}
	c.CreateTopic(t, p.topic, 1, nil)
	big := func(n int) string { return strings.Repeat(string(rune('a'+n)), 900_000) }
	recs := batch(p.topic, 0,
		ev{ct: "CREATE", id: "g1", ts: 1, cn: 1, fields: map[string]any{"Name": "good", "Description": big(0)}},
		raw{key: "bad-json", value: []byte(`{"envelope_version":1,"kind":"CHANGE","entity":`)},
		ev{ct: "UPDATE", id: "g1", ts: 2, cn: 2, fields: map[string]any{"Notes__c": big(1)}},
		ev{ct: "MERGE", id: "g2", ts: 2, cn: 2},
		ev{ct: "UPDATE", id: "g1", ts: 3, cn: 3, fields: map[string]any{"Extra__c": big(2)}},
		ev{ct: "UPDATE", id: "g1", ts: 4, cn: 4, fields: map[string]any{"Name": "still good"}},
		ev{ct: "CREATE", id: "g3", ts: 5, cn: 5, fields: map[string]any{"Name": "after"}},
	)
	cl := c.Client(t, kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedBytes(16<<20))
	for _, r := range recs {
		kr := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
		if err := cl.ProduceSync(t.Context(), kr).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	eo, err := c.Admin(t).ListEndOffsets(t.Context(), p.topic)
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.testConfig(containerName(t))
	s, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	stop := p.startSink(t, s, name+".g", nil)
	p.waitCommitted(t, name+".g", eo)
	stop()

	want := map[string]string{"bad-json": codeDecode, "g2": codeChangeType, "g1": codeTooLarge}
	got := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = kafkaio.ReadCommitted(ctx, c.Admin(t), c.Opts(), name+".dlq", 10*time.Second, func(r *kgo.Record) error {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		got[string(r.Key)] = h[connectorlib.HeaderDLQErrorCode]
		if h[connectorlib.HeaderDLQErrorClass] != string(connectorlib.ClassPermanent) || h[connectorlib.HeaderDLQErrorMessage] == "" {
			t.Errorf("dead letter %s: class %q, message %q", r.Key, h[connectorlib.HeaderDLQErrorClass], h[connectorlib.HeaderDLQErrorMessage])
		}
		t.Logf("dead letter %s: %s: %s", r.Key, h[connectorlib.HeaderDLQErrorCode], h[connectorlib.HeaderDLQErrorMessage])
		return nil
	})
	if err != nil {
		t.Fatalf("read the dead-letter topic: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("dead letters %v; want %v", got, want)
	}
	for k, code := range want {
		if got[k] != code {
			t.Errorf("dead letter for %s: code %q; want %s", k, got[k], code)
		}
	}
	read := openSinkCfg(t, cfg)
	d := getDoc(t, read, "g1")
	if d == nil || d["Name"] != "still good" || d["Notes__c"] == nil || d["Extra__c"] != nil {
		t.Errorf("g1: Name %v, Notes__c set %v, Extra__c set %v; want the changes around the oversized one applied",
			d["Name"], d["Notes__c"] != nil, d["Extra__c"] != nil)
	}
	if d := getDoc(t, read, "g3"); d == nil || d["Name"] != "after" {
		t.Errorf("g3 = %v", d)
	}
}
