package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNew_Config(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr []string // substrings naming each problem; nil = valid
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "valid without JWT cert, clock or TTL", edit: func(c *Config) { c.JWTCert, c.Clock, c.TokenTTL = nil, nil, 0 }},
		{name: "valid without security token", edit: func(c *Config) { c.SecurityToken = "" }},
		{name: "missing org id", edit: func(c *Config) { c.OrgID = "" }, wantErr: []string{"org_id"}},
		{name: "15-character org id", edit: func(c *Config) { c.OrgID = testOrgID15 }, wantErr: []string{"org_id: must be 18 characters"}},
		{name: "org id wrong prefix", edit: func(c *Config) { c.OrgID = testUserID }, wantErr: []string{`org_id: must start with "00D"`}},
		{name: "org id not alphanumeric", edit: func(c *Config) { c.OrgID = "00D5g000004ABCD-A4" }, wantErr: []string{"org_id: must be alphanumeric"}},
		{name: "user id wrong prefix", edit: func(c *Config) { c.UserID = testOrgID }, wantErr: []string{`user_id: must start with "005"`}},
		{name: "negative ttl", edit: func(c *Config) { c.TokenTTL = -time.Second }, wantErr: []string{"token_ttl"}},
		{name: "non-RSA certificate", edit: func(c *Config) { c.JWTCert = &x509.Certificate{PublicKey: &ecKey.PublicKey} }, wantErr: []string{"jwt_cert"}},
		{
			name: "everything missing",
			edit: func(c *Config) {
				*c = Config{}
			},
			wantErr: []string{"org_id", "user_id", "username", "password", "client_id", "client_secret", "instance_url"},
		},
		{
			name:    "secrets set but ids missing",
			edit:    func(c *Config) { c.OrgID, c.UserID = "", "" },
			wantErr: []string{"org_id", "user_id"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, &fakeClock{now: t0})
			tt.edit(&cfg)
			p, err := New(cfg)
			if tt.wantErr == nil {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New error = %v, want ErrInvalidConfig", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			for _, s := range secrets() {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks a secret", err)
				}
			}
		})
	}
}

func TestNew_Defaults(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, &fakeClock{now: t0})
	cfg.Clock, cfg.TokenTTL = nil, 0
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	_, s := p.IssueToken()
	if s.IssuedAt.Before(before) || s.Expires.Sub(s.IssuedAt) != DefaultTokenTTL {
		t.Errorf("session %+v: want the wall clock and a %v lifetime", s, DefaultTokenTTL)
	}
}
