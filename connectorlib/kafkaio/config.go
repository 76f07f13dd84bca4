package kafkaio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Full names of the variables Config reads. The loader prefixes every
// envconfig tag with "SFCONNECT_"; error messages use the full names so that
// an operator can grep for them.
const (
	envBrokers                = "SFCONNECT_KAFKA_BROKERS"
	envClientID               = "SFCONNECT_KAFKA_CLIENT_ID"
	envTLSEnabled             = "SFCONNECT_KAFKA_TLS_ENABLED"
	envTLSCAFile              = "SFCONNECT_KAFKA_TLS_CA_FILE"
	envTLSCertFile            = "SFCONNECT_KAFKA_TLS_CERT_FILE"
	envTLSKeyFile             = "SFCONNECT_KAFKA_TLS_KEY_FILE"
	envTLSServerName          = "SFCONNECT_KAFKA_TLS_SERVER_NAME"
	envTLSInsecureSkipVerify  = "SFCONNECT_KAFKA_TLS_INSECURE_SKIP_VERIFY"
	envSASLMechanism          = "SFCONNECT_KAFKA_SASL_MECHANISM"
	envSASLUsername           = "SFCONNECT_KAFKA_SASL_USERNAME"
	envSASLPassword           = "SFCONNECT_KAFKA_SASL_PASSWORD"
	envSASLOAuthTokenFile     = "SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE"
	envSASLOAuthToken         = "SFCONNECT_KAFKA_SASL_OAUTH_TOKEN"
	envEventHubsConnection    = "SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING"
	envDialTimeout            = "SFCONNECT_KAFKA_DIAL_TIMEOUT"
	envRequestTimeoutOverhead = "SFCONNECT_KAFKA_REQUEST_TIMEOUT_OVERHEAD"
)

// Defaults. They are repeated in the struct tags below (a test keeps the two
// in step) and also apply when a Config built in Go leaves the field zero.
const (
	defaultClientID = "sfconnect"
	// defaultDialTimeout matches kgo's own default: long enough for a TLS
	// handshake to a cloud broker across regions, short enough that a dead
	// seed is skipped quickly.
	defaultDialTimeout = 10 * time.Second
	// defaultRequestTimeoutOverhead matches kgo's own default: the time
	// allowed on top of a request's own timeout for the network round trip.
	defaultRequestTimeoutOverhead = 10 * time.Second
)

// Config is the Kafka connection configuration, read from SFCONNECT_KAFKA_*
// environment variables.
//
// Either Brokers or EventHubsConnectionString is required. Fields tagged
// secret:"true" are redacted by String, Format and LogValue and never
// appear in an error. Use a Config as a named field of a larger
// configuration struct rather than embedding it: embedding promotes String,
// Format and LogValue to the outer struct.
type Config struct {
	// Brokers are the seed brokers, host:port (port 9092 if omitted).
	Brokers []string `envconfig:"KAFKA_BROKERS" desc:"Comma-separated seed brokers, host:port (port defaults to 9092). Required unless SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING is set."`

	// ClientID identifies this process in broker logs, quotas and metrics.
	ClientID string `envconfig:"KAFKA_CLIENT_ID" default:"sfconnect" desc:"Client ID sent to the brokers (appears in broker logs, quotas and metrics)."`

	// TLSEnabled turns on TLS to the brokers.
	TLSEnabled bool `envconfig:"KAFKA_TLS_ENABLED" default:"false" desc:"Connect to the brokers over TLS (1.2 or later). Implied by SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING."`
	// TLSCAFile is a PEM bundle of CAs to trust instead of the system roots.
	TLSCAFile string `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM file of CA certificates to trust instead of the system roots."`
	// TLSCertFile is the PEM client certificate for mutual TLS.
	TLSCertFile string `envconfig:"KAFKA_TLS_CERT_FILE" desc:"PEM client certificate for mutual TLS; requires SFCONNECT_KAFKA_TLS_KEY_FILE. Re-read on every handshake, so a rotated certificate is picked up."`
	// TLSKeyFile is the PEM private key of TLSCertFile.
	TLSKeyFile string `envconfig:"KAFKA_TLS_KEY_FILE" desc:"PEM private key for SFCONNECT_KAFKA_TLS_CERT_FILE."`
	// TLSServerName overrides the host name verified in broker certificates.
	TLSServerName string `envconfig:"KAFKA_TLS_SERVER_NAME" desc:"Host name to verify in broker certificates instead of the dialed host."`
	// TLSInsecureSkipVerify disables certificate verification.
	TLSInsecureSkipVerify bool `envconfig:"KAFKA_TLS_INSECURE_SKIP_VERIFY" default:"false" desc:"Skip verification of broker certificates. For local development only: it allows anyone on the path to read and alter the traffic."`

	// SASLMechanism selects SASL authentication.
	SASLMechanism string `envconfig:"KAFKA_SASL_MECHANISM" desc:"SASL mechanism: empty (no SASL), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER."`
	// SASLUsername is the PLAIN or SCRAM user.
	SASLUsername string `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user for PLAIN and SCRAM."`
	// SASLPassword is the PLAIN or SCRAM password.
	SASLPassword string `envconfig:"KAFKA_SASL_PASSWORD" secret:"true" desc:"SASL password for PLAIN and SCRAM."`
	// SASLOAuthTokenFile is a file holding an OAUTHBEARER token.
	SASLOAuthTokenFile string `envconfig:"KAFKA_SASL_OAUTH_TOKEN_FILE" desc:"OAUTHBEARER: file holding the bearer token. Re-read on every authentication, so a rotated token is picked up."`
	// SASLOAuthToken is a static OAUTHBEARER token.
	SASLOAuthToken string `envconfig:"KAFKA_SASL_OAUTH_TOKEN" secret:"true" desc:"OAUTHBEARER: the bearer token itself (alternative to SFCONNECT_KAFKA_SASL_OAUTH_TOKEN_FILE; cannot be rotated without a restart)."`

	// EventHubsConnectionString configures the Azure Event Hubs Kafka
	// endpoint: brokers, TLS and SASL are derived from it.
	EventHubsConnectionString string `envconfig:"KAFKA_EVENTHUBS_CONNECTION_STRING" secret:"true" desc:"Azure Event Hubs connection string (Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...). Sets the brokers to NAMESPACE.servicebus.windows.net:9093, TLS on and SASL PLAIN; the brokers and SASL variables must then be left empty."`

	// DialTimeout bounds each connection attempt, including the TLS
	// handshake.
	DialTimeout time.Duration `envconfig:"KAFKA_DIAL_TIMEOUT" default:"10s" desc:"Timeout for each broker connection attempt, including the TLS handshake."`
	// RequestTimeoutOverhead is added to every request's own timeout.
	RequestTimeoutOverhead time.Duration `envconfig:"KAFKA_REQUEST_TIMEOUT_OVERHEAD" default:"10s" desc:"Time allowed for the network on top of each request's own timeout before the request is failed."`
}

// resolved is a validated Config turned into what kgo needs.
type resolved struct {
	brokers                []string
	clientID               string
	dialTimeout            time.Duration
	requestTimeoutOverhead time.Duration
	tls                    *tls.Config    // nil: plaintext
	mechanism              sasl.Mechanism // nil: no SASL
}

// Validate reports every problem in c at once (joined with errors.Join),
// each prefixed with the full name of its variable. It reads the TLS and
// OAuth token files it names, so an unreadable file is reported here rather
// than at the first connection.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

// Opts returns the kgo options for c: seed brokers, client ID, dial and
// request timeouts, TLS (minimum version 1.2) and SASL. It returns the same
// problems as Validate, wrapped. The options can be shared by several
// clients; append producer or consumer options to them.
func (c Config) Opts() ([]kgo.Opt, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, fmt.Errorf("build kafka client options: %w", err)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.brokers...),
		kgo.ClientID(r.clientID),
		kgo.DialTimeout(r.dialTimeout),
		kgo.RequestTimeoutOverhead(r.requestTimeoutOverhead),
	}
	if r.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(r.tls))
	}
	if r.mechanism != nil {
		opts = append(opts, kgo.SASL(r.mechanism))
	}
	return opts, nil
}

// resolve validates c and derives the client settings. The returned error
// joins every problem found.
func (c Config) resolve() (resolved, error) {
	var (
		r    resolved
		errs []error
	)

	eh, ehErrs := c.eventHubs()
	errs = append(errs, ehErrs...)

	switch {
	case eh != nil:
		r.brokers = []string{eh.broker()}
	case c.EventHubsConnectionString != "":
		// Malformed connection string, already reported; do not also
		// complain that the brokers are missing.
	default:
		brokers, brokerErrs := parseBrokers(c.Brokers)
		r.brokers = brokers
		errs = append(errs, brokerErrs...)
	}

	r.clientID = c.ClientID
	if r.clientID == "" {
		r.clientID = defaultClientID
	}

	var err error
	if r.dialTimeout, err = positiveOrDefault(envDialTimeout, c.DialTimeout, defaultDialTimeout); err != nil {
		errs = append(errs, err)
	}
	if r.requestTimeoutOverhead, err = positiveOrDefault(envRequestTimeoutOverhead, c.RequestTimeoutOverhead, defaultRequestTimeoutOverhead); err != nil {
		errs = append(errs, err)
	}

	tlsCfg, tlsErrs := c.tlsConfig(c.TLSEnabled || c.EventHubsConnectionString != "")
	r.tls = tlsCfg
	errs = append(errs, tlsErrs...)

	if eh != nil {
		r.mechanism = eh.mechanism(strings.TrimSpace(c.EventHubsConnectionString))
	} else if c.EventHubsConnectionString == "" {
		mech, saslErrs := c.saslMechanism()
		r.mechanism = mech
		errs = append(errs, saslErrs...)
	}

	if err := errors.Join(errs...); err != nil {
		return resolved{}, err
	}
	return r, nil
}

// parseBrokers trims the entries of brokers and checks each is host or
// host:port.
func parseBrokers(brokers []string) ([]string, []error) {
	if len(brokers) == 0 {
		return nil, []error{fmt.Errorf("%s: required unless %s is set", envBrokers, envEventHubsConnection)}
	}
	var (
		out  = make([]string, 0, len(brokers))
		errs []error
	)
	for i, b := range brokers {
		b = strings.TrimSpace(b)
		if b == "" {
			errs = append(errs, fmt.Errorf("%s: entry %d is empty", envBrokers, i+1))
			continue
		}
		if err := checkHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("%s: entry %d (%q): %w", envBrokers, i+1, b, err))
			continue
		}
		out = append(out, b)
	}
	return out, errs
}

// checkHostPort accepts "host", "host:port" and "[ipv6]:port".
func checkHostPort(b string) error {
	if strings.ContainsAny(b, " \t/") {
		return errors.New("want host:port")
	}
	if !strings.Contains(b, ":") {
		return nil // kgo adds the default port 9092
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("host is empty")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("port must be a number from 1 to 65535")
	}
	return nil
}

func positiveOrDefault(name string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < 0:
		return 0, fmt.Errorf("%s: must be positive, got %s", name, d)
	}
	return d, nil
}
