package kafkaio_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

func TestConfig_redaction(t *testing.T) {
	t.Parallel()
	cfg := kafkaio.Config{
		Brokers:                   []string{"broker-1:9092"},
		SASLMechanism:             "PLAIN",
		SASLUsername:              "alice",
		SASLPassword:              testPassword,
		SASLOAuthToken:            testToken,
		EventHubsConnectionString: testEHConn + ";EntityPath=orders",
	}
	type outer struct {
		Name  string
		Kafka kafkaio.Config
	}

	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("starting", "kafka", cfg, "kafka_ptr", &cfg)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("starting", "kafka", cfg)

	tests := []struct {
		name string
		got  string
		// wantContains are non-secret parts the output must still show.
		wantContains []string
	}{
		{name: "Sprint", got: fmt.Sprint(cfg), wantContains: []string{"broker-1:9092", "alice", "[REDACTED]", "myns.servicebus.windows.net", "orders"}},
		{name: "Sprint pointer", got: fmt.Sprint(&cfg), wantContains: []string{"broker-1:9092"}},
		{name: "String", got: cfg.String(), wantContains: []string{"sasl_password=[REDACTED]"}},
		{name: "%+v", got: fmt.Sprintf("%+v", cfg)},
		{name: "%#v", got: fmt.Sprintf("%#v", cfg)},
		{name: "%s", got: fmt.Sprintf("%s", cfg)},
		{name: "%q", got: fmt.Sprintf("%q", cfg)},
		{name: "%d", got: fmt.Sprintf("%d", cfg)},
		{name: "%x", got: fmt.Sprintf("%x", cfg)},
		{name: "inside a struct %+v", got: fmt.Sprintf("%+v", outer{Name: "src", Kafka: cfg}), wantContains: []string{"src", "broker-1:9092"}},
		{name: "inside a struct %#v", got: fmt.Sprintf("%#v", outer{Name: "src", Kafka: cfg})},
		{name: "slog json", got: jsonLog.String(), wantContains: []string{`"sasl_password":"[REDACTED]"`, `"brokers":["broker-1:9092"]`}},
		{name: "slog text", got: textLog.String(), wantContains: []string{"kafka.sasl_username=alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertNoSecret(t, tt.got)
			if strings.Contains(tt.got, testEHConn) {
				t.Errorf("output contains the connection string: %s", tt.got)
			}
			for _, want := range tt.wantContains {
				if !strings.Contains(tt.got, want) {
					t.Errorf("output %s\ndoes not contain %q", tt.got, want)
				}
			}
		})
	}

	t.Run("slog json is valid", func(t *testing.T) {
		t.Parallel()
		var m map[string]any
		if err := json.Unmarshal(jsonLog.Bytes(), &m); err != nil {
			t.Fatalf("unmarshal %s: %v", jsonLog.String(), err)
		}
		k, ok := m["kafka"].(map[string]any)
		if !ok || k["eventhubs_connection_string"] != "[REDACTED]" || k["sasl_oauth_token"] != "[REDACTED]" {
			t.Errorf("kafka group = %v", m["kafka"])
		}
	})

	t.Run("unset secrets are shown empty", func(t *testing.T) {
		t.Parallel()
		s := kafkaio.Config{Brokers: []string{"b:1"}}.String()
		if strings.Contains(s, "[REDACTED]") || !strings.Contains(s, "sasl_password= ") {
			t.Errorf("String() = %s", s)
		}
	})
}
