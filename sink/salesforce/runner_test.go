package salesforce_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

// sinkRunnerConfig is a runner configuration for tests: quick retries,
// short timeouts.
func sinkRunnerConfig(name string, topics ...string) connectorlib.SinkConfig {
	return connectorlib.SinkConfig{
		Name: name, Topics: topics, DLQTopic: "sfconnect.dlq." + name, DLQPartitions: 1,
		BatchMaxRecords: 500, MaxPollRecords: 5000, Parallelism: 4,
		RetryInitial: 50 * time.Millisecond, RetryMax: time.Second, RetryMaxAttempts: 0, RetryMaxElapsed: 0,
		OnRetryExhausted: connectorlib.ExhaustedDLQ, SessionTimeout: 10 * time.Second,
		ShutdownTimeout: 10 * time.Second, RestartBackoffMax: time.Second,
	}
}

// produce writes batch to Kafka, keys and values as they are.
func produce(t testing.TB, cl *kgo.Client, topic string, batch []connectorlib.Record) {
	t.Helper()
	recs := make([]*kgo.Record, len(batch))
	for i, r := range batch {
		recs[i] = &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readAll reads n records of topic from the start, failing t if fewer
// arrive in time.
func readAll(t testing.TB, c *kafkatest.Cluster, topic string, n int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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

// eventually polls cond until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSinkRunner_ValidationFailureReachesDLQ runs the sink under the
// connectorlib runner: 200 changes, one rejected by a validation rule. The
// rejected one lands in the dead-letter topic with Salesforce's statusCode
// and message in its headers; the org holds the other 199.
func TestSinkRunner_ValidationFailureReachesDLQ(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		e := newEnv(t, baseConfig())
		e.sim.AddValidationRule("Account", "Phone", "Phone must not be 000", func(r map[string]any) bool { return r["Phone"] == "000" })
		topic := kafkatest.Topic(t, "webapp")
		c.CreateTopic(t, topic, 1, nil)
		changes := make([]ch, 200)
		for i := range changes {
			phone := fmt.Sprint(i)
			if i == 61 {
				phone = "000"
			}
			changes[i] = upsert("customer", fmt.Sprintf("d%03d", i), map[string]any{"name": fmt.Sprint("D", i), "phone": phone}, time.Now())
		}
		produce(t, c.Client(t), topic, records(t, topic, changes...))
		cfg := sinkRunnerConfig("sfsink-dlq-"+strings.ToLower(string(c.Kind)), topic)
		cfg.DLQTopic = kafkatest.Topic(t, "dlq")
		cfg.Group = kafkatest.Topic(t, "group")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- connectorlib.NewSinkRunner(cfg, e.sink, connectorlib.Deps{Kafka: c.Opts()}).Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("runner did not stop")
			}
		})
		dlq := readAll(t, c, cfg.DLQTopic, 1, 60*time.Second)
		h := map[string]string{}
		for _, x := range dlq[0].Headers {
			h[x.Key] = string(x.Value)
		}
		if string(dlq[0].Key) != "d061" || h[connectorlib.HeaderDLQErrorCode] != "FIELD_CUSTOM_VALIDATION_EXCEPTION" ||
			!strings.Contains(h[connectorlib.HeaderDLQErrorMessage], "Phone must not be 000") || h[connectorlib.HeaderDLQErrorClass] != "permanent" {
			t.Errorf("dead letter key %q headers %v; want d061 with FIELD_CUSTOM_VALIDATION_EXCEPTION and the rule's message", dlq[0].Key, h)
		}
		eventually(t, 30*time.Second, "199 Accounts in the org", func() bool { return len(byExternalID(t, e.sim, "Account")) == 199 })
		if _, ok := byExternalID(t, e.sim, "Account")["d061"]; ok {
			t.Error("the rejected Account is in the org")
		}
	})
}
