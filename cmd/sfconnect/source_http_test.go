package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunSourceHTTP_BadEnvironment: `source http` with bad settings exits 2
// and names every variable at fault, without echoing the secret.
func TestRunSourceHTTP_BadEnvironment(t *testing.T) {
	const secret = "short-secret"
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{
			name: "required settings missing",
			env:  map[string]string{},
			want: []string{"SFCONNECT_HTTP_OBJECTS: required but not set"},
		},
		{
			name: "outbound needs an org id and a long secret",
			env:  map[string]string{"SFCONNECT_HTTP_OBJECTS": "Account", "SFCONNECT_HTTP_SECRET": secret},
			want: []string{"SFCONNECT_HTTP_ORGANIZATION_ID: required with the outbound endpoint",
				"SFCONNECT_HTTP_SECRET: required, at least 16 characters"},
			notWant: []string{secret},
		},
		{
			name: "bad values",
			env: map[string]string{"SFCONNECT_HTTP_OBJECTS": "Account,Bad Name", "SFCONNECT_HTTP_ENDPOINTS": "webhook,ftp",
				"SFCONNECT_HTTP_WEBHOOK_AUTH": "basic", "SFCONNECT_HTTP_MAX_BODY_BYTES": "10", "SFCONNECT_HTTP_ACK_TIMEOUT": "5ms",
				"SFCONNECT_HTTP_RATE_LIMIT": "-1", "SFCONNECT_HTTP_DEDUP_WINDOW": "1s"},
			want: []string{`SFCONNECT_HTTP_OBJECTS: "Bad Name" is not an sObject name`, `SFCONNECT_HTTP_ENDPOINTS: "ftp" is not an endpoint`,
				`SFCONNECT_HTTP_WEBHOOK_AUTH: must be hmac, secret or mtls, got "basic"`, "SFCONNECT_HTTP_MAX_BODY_BYTES: must be at least 1024",
				"SFCONNECT_HTTP_ACK_TIMEOUT: must be at least 1s", "SFCONNECT_HTTP_RATE_LIMIT: must not be negative",
				"SFCONNECT_HTTP_DEDUP_WINDOW: must be at least 1m"},
		},
		{
			name: "mtls needs TLS files",
			env: map[string]string{"SFCONNECT_HTTP_OBJECTS": "*", "SFCONNECT_HTTP_ENDPOINTS": "outbound",
				"SFCONNECT_HTTP_ORGANIZATION_ID": "00D8a00000SIMRGEA5", "SFCONNECT_HTTP_OUTBOUND_AUTH": "mtls",
				"SFCONNECT_HTTP_TLS_CERT_FILE": "/nonexistent/cert.pem"},
			want: []string{"SFCONNECT_HTTP_TLS_CERT_FILE and SFCONNECT_HTTP_TLS_KEY_FILE: set both or neither",
				"SFCONNECT_HTTP_TLS_CLIENT_CA_FILE: mtls authentication needs it", "SFCONNECT_HTTP_TLS_CERT_FILE: stat /nonexistent/cert.pem"},
		},
		{
			name: "bad org id",
			env: map[string]string{"SFCONNECT_HTTP_OBJECTS": "Account", "SFCONNECT_HTTP_ORGANIZATION_ID": "001000000000001",
				"SFCONNECT_HTTP_SECRET": "a-long-enough-secret-value"},
			want: []string{`SFCONNECT_HTTP_ORGANIZATION_ID: "001000000000001" is not an org id`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("SFCONNECT_CONNECTOR_NAME", "ingest1")
			t.Setenv("SFCONNECT_KAFKA_BROKERS", "127.0.0.1:9092")
			t.Setenv("SFCONNECT_OPS_ADDR", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"source", "http"}, &stdout, &stderr)
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
