package kafkaio_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

// Secret values used across the tests; no error or output may contain them.
const (
	testPassword = "pw-Sup3rSecret"
	testToken    = "tok-Sup3rSecret"
	testEHKey    = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	testEHConn   = "Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + testEHKey
)

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testPassword, testToken, testEHKey} {
		if strings.Contains(s, secret) {
			t.Errorf("output contains secret %q:\n%s", secret, s)
		}
	}
}

// leaves splits an errors.Join tree into its leaves.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	notPEM := writeFile(t, p.dir, "not.pem", "hello")
	emptyToken := writeFile(t, p.dir, "empty-token", "\n")
	token := writeFile(t, p.dir, "token", testToken+"\n")
	missing := p.dir + "/does-not-exist"
	brokers := []string{"127.0.0.1:9092"}

	tests := []struct {
		name string
		cfg  kafkaio.Config
		// wantErrs are substrings, one per expected problem (in order);
		// empty means the config is valid.
		wantErrs []string
	}{
		{name: "minimal", cfg: kafkaio.Config{Brokers: brokers}},
		{name: "broker without port", cfg: kafkaio.Config{Brokers: []string{"kafka", " kafka-2:9093 "}}},
		{name: "ipv6 broker", cfg: kafkaio.Config{Brokers: []string{"[::1]:9092"}}},
		{
			name: "tls with ca and client cert",
			cfg: kafkaio.Config{
				Brokers: brokers, TLSEnabled: true, TLSCAFile: p.caFile,
				TLSCertFile: p.clientCertFile, TLSKeyFile: p.clientKeyFile, TLSServerName: "kafka",
			},
		},
		{name: "plain", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: testPassword}},
		{name: "scram lower case", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "scram-sha-512", SASLUsername: "u", SASLPassword: testPassword}},
		{name: "oauth token file", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER", SASLOAuthTokenFile: token}},
		{name: "oauth token", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER", SASLOAuthToken: testToken}},
		{name: "event hubs", cfg: kafkaio.Config{EventHubsConnectionString: testEHConn}},
		{
			name: "event hubs with matching explicit plain",
			cfg:  kafkaio.Config{EventHubsConnectionString: testEHConn, SASLMechanism: "PLAIN", SASLUsername: "$ConnectionString"},
		},

		{name: "empty", cfg: kafkaio.Config{}, wantErrs: []string{
			"SFCONNECT_KAFKA_BROKERS: required unless SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
		}},
		{name: "empty broker entry", cfg: kafkaio.Config{Brokers: []string{"a:9092", " "}}, wantErrs: []string{
			"SFCONNECT_KAFKA_BROKERS: entry 2 is empty",
		}},
		{name: "bad broker port", cfg: kafkaio.Config{Brokers: []string{"a:99999", "b:x"}}, wantErrs: []string{
			"SFCONNECT_KAFKA_BROKERS: entry 1",
			"SFCONNECT_KAFKA_BROKERS: entry 2",
		}},
		{name: "url as broker", cfg: kafkaio.Config{Brokers: []string{"kafka://a:9092"}}, wantErrs: []string{
			"SFCONNECT_KAFKA_BROKERS: entry 1",
		}},
		{name: "negative timeouts", cfg: kafkaio.Config{Brokers: brokers, DialTimeout: -time.Second, RequestTimeoutOverhead: -time.Second}, wantErrs: []string{
			"SFCONNECT_KAFKA_DIAL_TIMEOUT: must be positive",
			"SFCONNECT_KAFKA_REQUEST_TIMEOUT_OVERHEAD: must be positive",
		}},
		{
			name: "tls settings without tls",
			cfg: kafkaio.Config{
				Brokers: brokers, TLSCAFile: p.caFile, TLSCertFile: p.clientCertFile, TLSKeyFile: p.clientKeyFile,
				TLSServerName: "kafka", TLSInsecureSkipVerify: true,
			},
			wantErrs: []string{
				"SFCONNECT_KAFKA_TLS_CA_FILE: set but SFCONNECT_KAFKA_TLS_ENABLED is false",
				"SFCONNECT_KAFKA_TLS_CERT_FILE: set but SFCONNECT_KAFKA_TLS_ENABLED is false",
				"SFCONNECT_KAFKA_TLS_KEY_FILE: set but SFCONNECT_KAFKA_TLS_ENABLED is false",
				"SFCONNECT_KAFKA_TLS_SERVER_NAME: set but SFCONNECT_KAFKA_TLS_ENABLED is false",
				"SFCONNECT_KAFKA_TLS_INSECURE_SKIP_VERIFY: set but SFCONNECT_KAFKA_TLS_ENABLED is false",
			},
		},
		{name: "unreadable ca", cfg: kafkaio.Config{Brokers: brokers, TLSEnabled: true, TLSCAFile: missing}, wantErrs: []string{
			"SFCONNECT_KAFKA_TLS_CA_FILE: read file:",
		}},
		{name: "ca not pem", cfg: kafkaio.Config{Brokers: brokers, TLSEnabled: true, TLSCAFile: notPEM}, wantErrs: []string{
			"SFCONNECT_KAFKA_TLS_CA_FILE: parse",
		}},
		{name: "cert without key", cfg: kafkaio.Config{Brokers: brokers, TLSEnabled: true, TLSCertFile: p.clientCertFile}, wantErrs: []string{
			"SFCONNECT_KAFKA_TLS_KEY_FILE: required when SFCONNECT_KAFKA_TLS_CERT_FILE is set",
		}},
		{name: "key without cert", cfg: kafkaio.Config{Brokers: brokers, TLSEnabled: true, TLSKeyFile: p.clientKeyFile}, wantErrs: []string{
			"SFCONNECT_KAFKA_TLS_CERT_FILE: required when SFCONNECT_KAFKA_TLS_KEY_FILE is set",
		}},
		{name: "unreadable cert and key", cfg: kafkaio.Config{Brokers: brokers, TLSEnabled: true, TLSCertFile: missing, TLSKeyFile: missing + "-key"}, wantErrs: []string{
			"SFCONNECT_KAFKA_TLS_CERT_FILE: read file:",
			"SFCONNECT_KAFKA_TLS_KEY_FILE: read file:",
		}},
		{name: "key is not a key", cfg: kafkaio.Config{Brokers: brokers, TLSEnabled: true, TLSCertFile: p.clientCertFile, TLSKeyFile: p.caFile}, wantErrs: []string{
			"SFCONNECT_KAFKA_TLS_CERT_FILE, SFCONNECT_KAFKA_TLS_KEY_FILE: parse key pair:",
		}},
		{name: "plain without password", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "PLAIN", SASLUsername: "u"}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_PASSWORD: required when SFCONNECT_KAFKA_SASL_MECHANISM is PLAIN",
		}},
		{name: "scram without credentials", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "SCRAM-SHA-256"}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_USERNAME: required when SFCONNECT_KAFKA_SASL_MECHANISM is SCRAM-SHA-256",
			"SFCONNECT_KAFKA_SASL_PASSWORD: required when SFCONNECT_KAFKA_SASL_MECHANISM is SCRAM-SHA-256",
		}},
		{name: "scram with oauth token", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: testPassword, SASLOAuthToken: testToken}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN: not used when SFCONNECT_KAFKA_SASL_MECHANISM is SCRAM-SHA-512",
		}},
		{name: "unknown mechanism", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "GSSAPI"}, wantErrs: []string{
			`SFCONNECT_KAFKA_SASL_MECHANISM: unsupported mechanism "GSSAPI"`,
		}},
		{name: "credentials without mechanism", cfg: kafkaio.Config{Brokers: brokers, SASLUsername: "u", SASLPassword: testPassword}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_USERNAME: set but SFCONNECT_KAFKA_SASL_MECHANISM is empty",
			"SFCONNECT_KAFKA_SASL_PASSWORD: set but SFCONNECT_KAFKA_SASL_MECHANISM is empty",
		}},
		{name: "oauth without token", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER"}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE: required (or SFCONNECT_KAFKA_SASL_OAUTH_TOKEN) when SFCONNECT_KAFKA_SASL_MECHANISM is OAUTHBEARER",
		}},
		{name: "oauth with both tokens", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER", SASLOAuthToken: testToken, SASLOAuthTokenFile: token}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN: set together with SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE",
		}},
		{name: "oauth unreadable token file", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER", SASLOAuthTokenFile: missing}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE: read file:",
		}},
		{name: "oauth empty token file", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER", SASLOAuthTokenFile: emptyToken}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE: read file: file is empty",
		}},
		{name: "oauth with password", cfg: kafkaio.Config{Brokers: brokers, SASLMechanism: "OAUTHBEARER", SASLOAuthToken: testToken, SASLPassword: testPassword}, wantErrs: []string{
			"SFCONNECT_KAFKA_SASL_PASSWORD: not used when SFCONNECT_KAFKA_SASL_MECHANISM is OAUTHBEARER",
		}},
		{
			name: "event hubs with conflicting settings",
			cfg: kafkaio.Config{
				EventHubsConnectionString: testEHConn, Brokers: brokers, SASLMechanism: "SCRAM-SHA-256",
				SASLUsername: "u", SASLPassword: testPassword, SASLOAuthToken: testToken, SASLOAuthTokenFile: token,
			},
			wantErrs: []string{
				"SFCONNECT_KAFKA_BROKERS: must be empty (the broker comes from the Endpoint) when SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
				"SFCONNECT_KAFKA_SASL_MECHANISM: must be empty or PLAIN (Event Hubs uses SASL PLAIN) when SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
				"SFCONNECT_KAFKA_SASL_USERNAME: must be empty or $ConnectionString when SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
				"SFCONNECT_KAFKA_SASL_PASSWORD: must be empty (the connection string is the password) when SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
				"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE: must be empty when SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
				"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN: must be empty when SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set",
			},
		},
		{
			name: "every problem at once",
			cfg: kafkaio.Config{
				DialTimeout: -1, TLSCAFile: p.caFile, SASLMechanism: "PLAIN",
			},
			wantErrs: []string{
				"SFCONNECT_KAFKA_BROKERS: required",
				"SFCONNECT_KAFKA_DIAL_TIMEOUT: must be positive",
				"SFCONNECT_KAFKA_TLS_CA_FILE: set but SFCONNECT_KAFKA_TLS_ENABLED is false",
				"SFCONNECT_KAFKA_SASL_USERNAME: required when SFCONNECT_KAFKA_SASL_MECHANISM is PLAIN",
				"SFCONNECT_KAFKA_SASL_PASSWORD: required when SFCONNECT_KAFKA_SASL_MECHANISM is PLAIN",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			got := leaves(err)
			if len(got) != len(tt.wantErrs) {
				t.Fatalf("Validate() returned %d problems, want %d:\n%v", len(got), len(tt.wantErrs), err)
			}
			for i, want := range tt.wantErrs {
				if !strings.Contains(got[i].Error(), want) {
					t.Errorf("problem %d = %q, want it to contain %q", i+1, got[i], want)
				}
				if !strings.HasPrefix(got[i].Error(), "SFCONNECT_KAFKA_") {
					t.Errorf("problem %d = %q does not start with the variable name", i+1, got[i])
				}
			}
			if err != nil {
				assertNoSecret(t, err.Error())
			}

			// Opts agrees with Validate.
			opts, oerr := tt.cfg.Opts()
			if (oerr == nil) != (err == nil) {
				t.Fatalf("Opts() error = %v, Validate() error = %v", oerr, err)
			}
			if oerr == nil && len(opts) == 0 {
				t.Fatal("Opts() returned no options")
			}
			if oerr != nil {
				if !strings.HasSuffix(oerr.Error(), err.Error()) || len(leaves(errors.Unwrap(oerr))) != len(got) {
					t.Errorf("Opts() error = %q, want the Validate problems wrapped", oerr)
				}
				assertNoSecret(t, oerr.Error())
			}
		})
	}
}

// TestConfig_envconfig loads every variable through envconfig with the
// SFCONNECT prefix, checking the tag names.
func TestConfig_envconfig(t *testing.T) {
	env := map[string]string{
		"SFCONNECT_KAFKA_BROKERS":                     "a:9092,b:9093",
		"SFCONNECT_KAFKA_CLIENT_ID":                   "me",
		"SFCONNECT_KAFKA_TLS_ENABLED":                 "true",
		"SFCONNECT_KAFKA_TLS_CA_FILE":                 "/ca.pem",
		"SFCONNECT_KAFKA_TLS_CERT_FILE":               "/cert.pem",
		"SFCONNECT_KAFKA_TLS_KEY_FILE":                "/key.pem",
		"SFCONNECT_KAFKA_TLS_SERVER_NAME":             "kafka",
		"SFCONNECT_KAFKA_TLS_INSECURE_SKIP_VERIFY":    "true",
		"SFCONNECT_KAFKA_SASL_MECHANISM":              "PLAIN",
		"SFCONNECT_KAFKA_SASL_USERNAME":               "user",
		"SFCONNECT_KAFKA_SASL_PASSWORD":               testPassword,
		"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE":       "/token",
		"SFCONNECT_KAFKA_SASL_OAUTH_TOKEN":            testToken,
		"SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING": testEHConn,
		"SFCONNECT_KAFKA_DIAL_TIMEOUT":                "3s",
		"SFCONNECT_KAFKA_REQUEST_TIMEOUT_OVERHEAD":    "4s",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var got kafkaio.Config
	if err := envconfig.Process("SFCONNECT", &got); err != nil {
		t.Fatal(err)
	}
	want := kafkaio.Config{
		Brokers:                   []string{"a:9092", "b:9093"},
		ClientID:                  "me",
		TLSEnabled:                true,
		TLSCAFile:                 "/ca.pem",
		TLSCertFile:               "/cert.pem",
		TLSKeyFile:                "/key.pem",
		TLSServerName:             "kafka",
		TLSInsecureSkipVerify:     true,
		SASLMechanism:             "PLAIN",
		SASLUsername:              "user",
		SASLPassword:              testPassword,
		SASLOAuthTokenFile:        "/token",
		SASLOAuthToken:            testToken,
		EventHubsConnectionString: testEHConn,
		DialTimeout:               3 * time.Second,
		RequestTimeoutOverhead:    4 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		// Compare field by field; printing the Config itself would redact.
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("field %s differs", gv.Type().Field(i).Name)
			}
		}
	}

	// Every field has a desc, and exactly the three secrets are marked.
	var secrets []string
	typ := reflect.TypeFor[kafkaio.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("desc") == "" || !strings.HasSuffix(f.Tag.Get("desc"), ".") {
			t.Errorf("field %s: desc tag missing or not a sentence", f.Name)
		}
		if f.Tag.Get("secret") == "true" {
			secrets = append(secrets, f.Tag.Get("envconfig"))
		}
	}
	wantSecrets := []string{"KAFKA_SASL_PASSWORD", "KAFKA_SASL_OAUTH_TOKEN", "KAFKA_EVENTHUBS_CONNECTION_STRING"}
	if !slices.Equal(secrets, wantSecrets) {
		t.Errorf("secret fields = %v, want %v", secrets, wantSecrets)
	}
}

// TestConfig_envconfigDefaults checks the default tags, read under a prefix
// that nothing sets.
func TestConfig_envconfigDefaults(t *testing.T) {
	t.Parallel()
	var got kafkaio.Config
	if err := envconfig.Process("KAFKAIO_DEFAULTS_TEST", &got); err != nil {
		t.Fatal(err)
	}
	if got.ClientID != "sfconnect" || got.DialTimeout != 10*time.Second || got.RequestTimeoutOverhead != 10*time.Second ||
		got.TLSEnabled || got.TLSInsecureSkipVerify {
		t.Errorf("defaults = %v", got)
	}
}

// TestConfig_Opts_defaults checks that a zero field in a Config built in Go
// gets the same default as the envconfig tag.
func TestConfig_Opts_defaults(t *testing.T) {
	t.Parallel()
	cl := newClient(t, kafkaio.Config{Brokers: []string{"127.0.0.1:1"}})
	tests := []struct {
		name string
		opt  any
		want any
	}{
		{name: "client id", opt: "ClientID", want: "sfconnect"},
		{name: "dial timeout", opt: "DialTimeout", want: 10 * time.Second},
		{name: "request timeout overhead", opt: "RequestTimeoutOverhead", want: 10 * time.Second},
		{name: "seed brokers", opt: "SeedBrokers", want: []string{"127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cl.OptValue(tt.opt); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("OptValue(%v) = %v, want %v", tt.opt, got, tt.want)
			}
		})
	}
}
