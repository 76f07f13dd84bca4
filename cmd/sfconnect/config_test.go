package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestRun_BadEnvironment_NamesEveryVariable runs connector commands with bad
// environments and checks that each problem is reported by its variable's
// name, all at once, with exit code 2, and that no secret is echoed.
func TestRun_BadEnvironment_NamesEveryVariable(t *testing.T) {
	const secret = "s3cr3t-value-never-printed"
	base := map[string]string{"SFCONNECT_CONNECTOR_NAME": "c1", "SFCONNECT_KAFKA_BROKERS": "127.0.0.1:9092", "SFCONNECT_OPS_ADDR": ""}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		noBase  bool
		want    []string
		notWant []string
	}{
		{
			name: "nothing set", args: []string{"source"}, noBase: true,
			want: []string{"SFCONNECT_CONNECTOR_NAME: required but not set", "SFCONNECT_KAFKA_BROKERS: required"},
		},
		{
			name: "malformed numbers durations and booleans", args: []string{"source"},
			env: map[string]string{
				"SFCONNECT_SOURCE_MAX_IN_FLIGHT": "many", "SFCONNECT_SHUTDOWN_TIMEOUT": "soon",
				"SFCONNECT_TOPIC_AUTO_CREATE": "perhaps",
			},
			want: []string{`SFCONNECT_SOURCE_MAX_IN_FLIGHT: not a valid int: "many"`, "SFCONNECT_SHUTDOWN_TIMEOUT: not a valid duration",
				"SFCONNECT_TOPIC_AUTO_CREATE: not a valid bool"},
		},
		{
			name: "unknown variable is a typo", args: []string{"source"},
			env:  map[string]string{"SFCONNECT_DELIVERY_MOD": "exactly_once"},
			want: []string{"SFCONNECT_DELIVERY_MOD: unknown variable"},
		},
		{
			name: "another command's variable is not a typo", args: []string{"source"},
			env:     map[string]string{"SFCONNECT_SINK_TOPICS": "a", "SFCONNECT_DELIVERY_MODE": "twice"},
			want:    []string{`SFCONNECT_DELIVERY_MODE: must be auto, exactly_once or at_least_once, got "twice"`},
			notWant: []string{"SFCONNECT_SINK_TOPICS"},
		},
		{
			name: "out of range values", args: []string{"source"},
			env: map[string]string{"SFCONNECT_SOURCE_MAX_IN_FLIGHT": "0", "SFCONNECT_TOPIC_PARTITIONS": "0",
				"SFCONNECT_SOURCE_TRANSACTION_TIMEOUT": "10ms"},
			want: []string{"SFCONNECT_SOURCE_MAX_IN_FLIGHT: must be at least 1", "SFCONNECT_TOPIC_PARTITIONS: must be at least 1",
				"SFCONNECT_SOURCE_TRANSACTION_TIMEOUT: must be at least 1s"},
		},
		{
			name: "sasl without credentials", args: []string{"source"},
			env:  map[string]string{"SFCONNECT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
			want: []string{"SFCONNECT_KAFKA_SASL_USERNAME: required", "SFCONNECT_KAFKA_SASL_PASSWORD: required"},
		},
		{
			name: "sasl password never echoed", args: []string{"source"},
			env:     map[string]string{"SFCONNECT_KAFKA_SASL_MECHANISM": "BOGUS", "SFCONNECT_KAFKA_SASL_USERNAME": "u", "SFCONNECT_KAFKA_SASL_PASSWORD": secret},
			want:    []string{"SFCONNECT_KAFKA_SASL_MECHANISM"},
			notWant: []string{secret},
		},
		{
			name: "missing tls files", args: []string{"sink", "cosmos"},
			env: map[string]string{"SFCONNECT_SINK_TOPICS": "t", "SFCONNECT_KAFKA_TLS_ENABLED": "true",
				"SFCONNECT_KAFKA_TLS_CA_FILE": "/nonexistent/ca.pem"},
			want: []string{"SFCONNECT_KAFKA_TLS_CA_FILE"},
		},
		{
			name: "malformed event hubs connection string", args: []string{"source"}, noBase: true,
			env: map[string]string{"SFCONNECT_CONNECTOR_NAME": "c1",
				"SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING": "Endpoint=http://x;SharedAccessKey=" + secret},
			want:    []string{"SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING"},
			notWant: []string{secret},
		},
		{
			name: "sink policies", args: []string{"sink", "salesforce"},
			env: map[string]string{"SFCONNECT_SINK_ON_RETRY_EXHAUSTED": "ignore", "SFCONNECT_SINK_RETRY_INITIAL": "1m",
				"SFCONNECT_SINK_RETRY_MAX": "1s", "SFCONNECT_SINK_PARALLELISM": "0"},
			want: []string{"SFCONNECT_SINK_TOPICS: required but not set", `SFCONNECT_SINK_ON_RETRY_EXHAUSTED: must be dlq or stop, got "ignore"`,
				"SFCONNECT_SINK_RETRY_INITIAL: must be positive and not above SFCONNECT_SINK_RETRY_MAX", "SFCONNECT_SINK_PARALLELISM: must be at least 1"},
		},
		{
			name: "operations settings", args: []string{"sink", "cosmos"},
			env:  map[string]string{"SFCONNECT_SINK_TOPICS": "t", "SFCONNECT_LOG_LEVEL": "loud", "SFCONNECT_LOG_FORMAT": "xml", "SFCONNECT_OPS_ADDR": "9090"},
			want: []string{"SFCONNECT_LOG_LEVEL: must be", "SFCONNECT_LOG_FORMAT: must be json or text", "SFCONNECT_OPS_ADDR: must be host:port"},
		},
		{
			name: "unknown command", args: []string{"sink", "postgres"}, noBase: true,
			want: []string{`unknown command "sink postgres"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if !tt.noBase {
				for k, v := range base {
					t.Setenv(k, v)
				}
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != exitConfig {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, exitConfig, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output contains %q:\n%s", w, out)
				}
			}
		})
	}
}

// clearEnv unsets every SFCONNECT_ variable for the test's duration.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SFCONNECT_") {
			t.Setenv(k, v)
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRun_Env_ListsEveryVariable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"env"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, v := range []string{"SFCONNECT_KAFKA_BROKERS", "SFCONNECT_DELIVERY_MODE", "SFCONNECT_SINK_TOPICS", "SFCONNECT_LOG_FORMAT"} {
		if !strings.Contains(stdout.String(), "`"+v+"`") {
			t.Errorf("env output lacks %s", v)
		}
	}
	committed, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("read the committed reference: %v", err)
	}
	if string(committed) != stdout.String() {
		t.Fatal("docs/configuration.md is stale: regenerate it with `make generate`")
	}
}
