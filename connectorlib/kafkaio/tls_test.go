package kafkaio_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

func TestConfig_Opts_TLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := []struct {
		name          string
		requireClient bool // broker demands a client certificate
		cfg           kafkaio.Config
		wantOK        bool
		wantErr       string // substring of the failure
	}{
		{name: "ca file", cfg: kafkaio.Config{TLSEnabled: true, TLSCAFile: p.caFile}, wantOK: true},
		{name: "system roots reject self-signed ca", cfg: kafkaio.Config{TLSEnabled: true}, wantErr: "unknown authority"},
		{name: "wrong server name", cfg: kafkaio.Config{TLSEnabled: true, TLSCAFile: p.caFile, TLSServerName: "kafka.example"}, wantErr: "kafka.example"},
		{name: "insecure skip verify", cfg: kafkaio.Config{TLSEnabled: true, TLSInsecureSkipVerify: true}, wantOK: true},
		{
			name:          "mutual tls",
			requireClient: true,
			cfg:           kafkaio.Config{TLSEnabled: true, TLSCAFile: p.caFile, TLSCertFile: p.clientCertFile, TLSKeyFile: p.clientKeyFile},
			wantOK:        true,
		},
		{name: "mutual tls without client certificate", requireClient: true, cfg: kafkaio.Config{TLSEnabled: true, TLSCAFile: p.caFile}, wantErr: "certificate required"},
		{name: "plaintext client", cfg: kafkaio.Config{}, wantErr: "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
			if tt.requireClient {
				srv.ClientAuth = tls.RequireAndVerifyClientCert
				srv.ClientCAs = p.caPool
			}
			c := newCluster(t, kfake.TLS(srv))
			cfg := tt.cfg
			cfg.Brokers = c.ListenAddrs()
			cfg.DialTimeout = 2 * time.Second
			cl := newClient(t, cfg)

			timeout := 5 * time.Second
			if !tt.wantOK {
				timeout = 2 * time.Second
			}
			err := cl.Ping(ctxTimeout(t, timeout))
			if tt.wantOK && err != nil {
				t.Fatalf("Ping() = %v, want success", err)
			}
			if !tt.wantOK && err == nil {
				t.Fatal("Ping() = nil, want a TLS failure")
			}
			if !tt.wantOK && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Ping() = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
