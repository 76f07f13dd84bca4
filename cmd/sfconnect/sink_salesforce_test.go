package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
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
