package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun_SinkCosmos_BadConfig runs `sink cosmos` with bad Cosmos settings
// and checks exit code 2, every problem named by its variable, and the
// account key never echoed.
func TestRun_SinkCosmos_BadConfig(t *testing.T) {
	const secretKey = "not-base64-but-secret!!"
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{
			name: "required settings missing",
			want: []string{"SFCONNECT_COSMOS_ENDPOINT: required but not set", "SFCONNECT_COSMOS_DATABASE: required but not set",
				"SFCONNECT_COSMOS_CONTAINER: required but not set"},
		},
		{
			name: "bad values",
			env: map[string]string{"SFCONNECT_COSMOS_ENDPOINT": "cosmos.example.com", "SFCONNECT_COSMOS_DATABASE": "db",
				"SFCONNECT_COSMOS_CONTAINER": "c", "SFCONNECT_COSMOS_WRITE_STRATEGY": "upsert", "SFCONNECT_COSMOS_DELETE_MODE": "gone",
				"SFCONNECT_COSMOS_PARTITION_KEY_PATH": "/a/b", "SFCONNECT_COSMOS_ID_TEMPLATE": "{entity}", "SFCONNECT_COSMOS_CONCURRENCY": "0"},
			want: []string{"SFCONNECT_COSMOS_ENDPOINT: must be an https:// URL", `SFCONNECT_COSMOS_WRITE_STRATEGY: must be overwrite, append, delete, overwrite_if_not_modified or patch, got "upsert"`,
				"SFCONNECT_COSMOS_DELETE_MODE: must be hard or soft", "SFCONNECT_COSMOS_PARTITION_KEY_PATH: must be one top-level property",
				"SFCONNECT_COSMOS_ID_TEMPLATE: must contain {id}", "SFCONNECT_COSMOS_CONCURRENCY: must be at least 1"},
		},
		{
			name: "key never echoed",
			env: map[string]string{"SFCONNECT_COSMOS_ENDPOINT": "https://a.documents.azure.com:443/", "SFCONNECT_COSMOS_DATABASE": "db",
				"SFCONNECT_COSMOS_CONTAINER": "c", "SFCONNECT_COSMOS_KEY": secretKey},
			want:    []string{"SFCONNECT_COSMOS_KEY: not a valid account key"},
			notWant: []string{secretKey},
		},
		{
			name: "tombstone ttl without soft deletes",
			env: map[string]string{"SFCONNECT_COSMOS_ENDPOINT": "https://a.documents.azure.com:443/", "SFCONNECT_COSMOS_DATABASE": "db",
				"SFCONNECT_COSMOS_CONTAINER": "c", "SFCONNECT_COSMOS_TOMBSTONE_TTL": "1h"},
			want: []string{"SFCONNECT_COSMOS_TOMBSTONE_TTL: only applies with SFCONNECT_COSMOS_DELETE_MODE=soft"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range map[string]string{"SFCONNECT_CONNECTOR_NAME": "c1", "SFCONNECT_KAFKA_BROKERS": "127.0.0.1:9092",
				"SFCONNECT_OPS_ADDR": "", "SFCONNECT_SINK_TOPICS": "salesforce.Account"} {
				t.Setenv(k, v)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"sink", "cosmos"}, &stdout, &stderr)
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
