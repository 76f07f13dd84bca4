package kafkaio_test

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

func TestConfig_EventHubs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		conn        string
		wantBrokers []string
		wantErr     string // substring; empty means valid
	}{
		{
			name:        "valid",
			conn:        testEHConn,
			wantBrokers: []string{"myns.servicebus.windows.net:9093"},
		},
		{
			name:        "valid with entity path, trailing separator and odd case",
			conn:        "endpoint=SB://MyNs.servicebus.windows.net/;sharedaccesskeyname=send;SHAREDACCESSKEY=" + testEHKey + ";EntityPath=orders;",
			wantBrokers: []string{"myns.servicebus.windows.net:9093"},
		},
		{
			name:        "valid without trailing slash",
			conn:        "Endpoint=sb://myns.servicebus.chinacloudapi.cn;SharedAccessKeyName=n;SharedAccessKey=" + testEHKey,
			wantBrokers: []string{"myns.servicebus.chinacloudapi.cn:9093"},
		},
		{
			name:    "missing key",
			conn:    "Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey",
			wantErr: "SharedAccessKey is missing",
		},
		{
			name:    "missing key name",
			conn:    "Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKey=" + testEHKey,
			wantErr: "SharedAccessKeyName is missing",
		},
		{
			name:    "wrong scheme",
			conn:    "Endpoint=https://myns.servicebus.windows.net/;SharedAccessKeyName=n;SharedAccessKey=" + testEHKey,
			wantErr: "Endpoint must start with sb://",
		},
		{
			name:    "missing endpoint",
			conn:    "SharedAccessKeyName=n;SharedAccessKey=" + testEHKey,
			wantErr: "Endpoint is missing",
		},
		{
			name:    "endpoint with path",
			conn:    "Endpoint=sb://myns.servicebus.windows.net/hub/x;SharedAccessKeyName=n;SharedAccessKey=" + testEHKey,
			wantErr: "Endpoint must be sb://NAMESPACE.servicebus.windows.net/",
		},
		{
			name:    "key pasted alone",
			conn:    testEHKey[:len(testEHKey)-2], // base64 without padding: no '='
			wantErr: "part 1 is not key=value",
		},
		{
			name:    "repeated key",
			conn:    testEHConn + ";SharedAccessKey=" + testEHKey,
			wantErr: "part 4 repeats a key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := kafkaio.Config{EventHubsConnectionString: tt.conn}
			err := cfg.Validate()
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("Validate() = nil, want an error")
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING: ") || !strings.Contains(msg, tt.wantErr) {
					t.Errorf("Validate() = %q, want SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING: ...%s", msg, tt.wantErr)
				}
				if strings.Contains(msg, testEHKey[:20]) || strings.Contains(msg, "myns") {
					t.Errorf("Validate() echoes the connection string: %q", msg)
				}
				if len(leaves(err)) != 1 {
					t.Errorf("Validate() = %d problems, want only the connection string one: %v", len(leaves(err)), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}

			cl := newClient(t, cfg)
			if got := cl.OptValue(kgo.SeedBrokers); !reflect.DeepEqual(got, tt.wantBrokers) {
				t.Errorf("seed brokers = %v, want %v", got, tt.wantBrokers)
			}
			tlsCfg, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
			switch {
			case tlsCfg == nil:
				t.Fatal("TLS is off, want on")
			case tlsCfg.RootCAs != nil:
				t.Error("TLS RootCAs set, want system roots")
			case tlsCfg.MinVersion != tls.VersionTLS12:
				t.Errorf("TLS MinVersion = %x, want TLS 1.2", tlsCfg.MinVersion)
			case tlsCfg.InsecureSkipVerify:
				t.Error("TLS verification is off")
			}
			mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
			if len(mechs) != 1 || mechs[0].Name() != "PLAIN" {
				t.Fatalf("SASL mechanisms = %v, want one PLAIN", mechs)
			}
			_, msg, err := mechs[0].Authenticate(t.Context(), "myns.servicebus.windows.net:9093")
			if err != nil {
				t.Fatal(err)
			}
			if want := "\x00$ConnectionString\x00" + tt.conn; string(msg) != want {
				t.Error("PLAIN message is not \\0$ConnectionString\\0<connection string>")
			}
			assertNoSecret(t, cfg.String())
		})
	}
}
