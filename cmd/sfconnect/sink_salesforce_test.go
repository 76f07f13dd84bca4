package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// TestRun_SinkSalesforce_BadConfig checks that `sink salesforce` exits 2
// on bad configuration and names every offending variable.
func TestRun_SinkSalesforce_BadConfig(t *testing.T) {
	base := map[string]string{
		"SFCONNECT_CONNECTOR_NAME": "sf", "SFCONNECT_KAFKA_BROKERS": "127.0.0.1:9092", "SFCONNECT_OPS_ADDR": "",
		"SFCONNECT_SINK_TOPICS": "webapp.changes", "SFCONNECT_SALESFORCE_AUTH_FLOW": "client_credentials", "SFCONNECT_SALESFORCE_LOGIN_URL": "https://login.example.com",
		"SFCONNECT_SALESFORCE_CLIENT_ID": "id", "SFCONNECT_SALESFORCE_CLIENT_SECRET": "secret",
		"SFCONNECT_SINK_SALESFORCE_OBJECTS": "customer=Account", "SFCONNECT_SINK_SALESFORCE_FIELDS": "customer.name=Name",
	}
	tests := []struct {
		name  string
		env   map[string]string
		unset []string
		want  []string
	}{
		{name: "mapping missing", unset: []string{"SFCONNECT_SINK_SALESFORCE_OBJECTS", "SFCONNECT_SINK_SALESFORCE_FIELDS"},
			want: []string{"SFCONNECT_SINK_SALESFORCE_OBJECTS: required", "SFCONNECT_SINK_SALESFORCE_FIELDS: required"}},
		{name: "field of an unmapped type", env: map[string]string{"SFCONNECT_SINK_SALESFORCE_FIELDS": "person.name=LastName"},
			want: []string{`SFCONNECT_SINK_SALESFORCE_FIELDS: "person.name=LastName" names type "person"`}},
		{name: "policies and modes", env: map[string]string{
			"SFCONNECT_SINK_SALESFORCE_CONFLICT_POLICY": "newest", "SFCONNECT_SINK_SALESFORCE_CONFLICT_POLICIES": "Account=mine",
			"SFCONNECT_SINK_SALESFORCE_MODE": "soap", "SFCONNECT_SINK_SALESFORCE_CLIENT_ID": "a;b",
			"SFCONNECT_SINK_SALESFORCE_VALUE_FORMAT": "avro", "SFCONNECT_SINK_SALESFORCE_API_RESERVE_PERCENT": "95"},
			want: []string{`SFCONNECT_SINK_SALESFORCE_CONFLICT_POLICY: must be`, `SFCONNECT_SINK_SALESFORCE_CONFLICT_POLICIES: "Account=mine"`,
				`SFCONNECT_SINK_SALESFORCE_MODE: must be composite or platform_event, got "soap"`, `SFCONNECT_SINK_SALESFORCE_CLIENT_ID: must be letters`,
				"SFCONNECT_SINK_SALESFORCE_SCHEMA_REGISTRY_URL: required when", "SFCONNECT_SINK_SALESFORCE_API_RESERVE_PERCENT: must be between 0 and 90"}},
		{name: "platform event mode needs an event", env: map[string]string{"SFCONNECT_SINK_SALESFORCE_MODE": "platform_event"},
			want: []string{"SFCONNECT_SINK_SALESFORCE_PLATFORM_EVENT: must name a platform event"}},
		{name: "malformed duration", env: map[string]string{"SFCONNECT_SINK_SALESFORCE_BREAKER_COOLDOWN": "a while"},
			want: []string{"SFCONNECT_SINK_SALESFORCE_BREAKER_COOLDOWN: not a valid duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			for _, k := range tt.unset {
				if err := os.Unsetenv(k); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"sink", "salesforce"}, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != exitConfig {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, exitConfig, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "not part of this build") {
				t.Errorf("the sink is still a placeholder:\n%s", out)
			}
		})
	}
}

// TestRun_SinkSalesforce_WritesAndStops runs `sfconnect sink salesforce` as
// a child process against a simulated org and an in-process Kafka cluster:
// web-app changes reach the org, a change older than a person's edit lands
// in the conflicts topic, and SIGTERM stops the process with exit code 0.
func TestRun_SinkSalesforce_WritesAndStops(t *testing.T) {
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	var edited string
	if err := sim.TransactionAs("005000000000099AAA", func(tx *sfsim.Tx) (err error) {
		edited, err = tx.Create("Account", map[string]any{"Name": "edited by a person", "External_Id__c": "c-old"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	cluster := kafkatest.NewFake(t)
	cluster.CreateTopic(t, "webapp.changes", 2, nil)
	producer := cluster.Client(t)
	now := time.Now()
	change := func(ext, name string, at time.Time) *kgo.Record {
		v, _ := json.Marshal(map[string]any{"envelope_version": 1, "object": "customer", "operation": "UPSERT",
			"fields": map[string]any{"name": name}, "changed_at": at.UnixMilli(), "idempotency_key": ext + name})
		return &kgo.Record{Topic: "webapp.changes", Key: []byte(ext), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := producer.ProduceSync(ctx, change("c1", "One", now), change("c2", "Two", now),
		change("c-old", "stale", now.Add(-time.Hour))).FirstErr(); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"SFCONNECT_CONNECTOR_NAME=websync", "SFCONNECT_KAFKA_BROKERS=" + strings.Join(cluster.Seeds(), ","), "SFCONNECT_OPS_ADDR=",
		"SFCONNECT_SINK_TOPICS=webapp.changes", "SFCONNECT_SALESFORCE_LOGIN_URL=" + sim.URL(), "SFCONNECT_SALESFORCE_CA_FILE=" + ca,
		"SFCONNECT_SALESFORCE_CLIENT_ID=" + sfsim.DefaultClientID, "SFCONNECT_SALESFORCE_CLIENT_SECRET=" + sfsim.DefaultClientSecret,
		"SFCONNECT_SINK_SALESFORCE_OBJECTS=customer=Account", "SFCONNECT_SINK_SALESFORCE_FIELDS=customer.name=Name",
		"SFCONNECT_SINK_SALESFORCE_EXTERNAL_IDS=Account=External_Id__c",
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSinkSalesforceHelperProcess$", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SFCONNECT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append(env, sinkHelperEnv+"=1")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, err := sim.Records("Account")
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]any{}
		for _, r := range recs {
			names[fmt.Sprint(r["External_Id__c"])] = r["Name"]
		}
		if names["c1"] == "One" && names["c2"] == "Two" {
			if names["c-old"] != "edited by a person" {
				t.Errorf("the stale change overwrote the person's edit: %v", names["c-old"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes not written within 30s (org: %v); stderr:\n%s", names, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	consumer := cluster.Client(t, kgo.ConsumeTopics("sfconnect.conflicts.websync"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var conflict *kgo.Record
	for conflict == nil && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { conflict = r })
	}
	if conflict == nil || string(conflict.Key) != "c-old" || !strings.Contains(string(conflict.Value), edited) {
		t.Fatalf("conflicts topic: %v; want the stale change of c-old with the record %s", conflict, edited)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("did not stop within 30s of SIGTERM; stderr:\n%s", stderr.String())
	}
}

// sinkHelperEnv makes the test binary run `sfconnect sink salesforce`
// instead of its tests (TestSinkSalesforceHelperProcess). It has no
// SFCONNECT_ prefix: the command rejects unknown SFCONNECT_ variables.
const sinkHelperEnv = "SFSINK_TEST_HELPER"

// TestSinkSalesforceHelperProcess is not a test: it is the child process
// TestRun_SinkSalesforce_WritesAndStops starts.
func TestSinkSalesforceHelperProcess(t *testing.T) {
	if os.Getenv(sinkHelperEnv) == "" {
		return
	}
	os.Exit(run([]string{"sink", "salesforce"}, os.Stdout, os.Stderr))
}
