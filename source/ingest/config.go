package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Endpoints.
const (
	EndpointOutbound = "outbound"
	EndpointWebhook  = "webhook"
)

// Authentication methods.
const (
	// AuthSecret compares a shared secret sent in HTTP_SECRET_HEADER (or,
	// for Outbound Messages, which cannot set headers, in the token query
	// parameter of the endpoint URL).
	AuthSecret = "secret"
	// AuthHMAC verifies an HMAC-SHA256 signature of the body, hex-encoded
	// in HTTP_SIGNATURE_HEADER (optionally prefixed sha256=).
	AuthHMAC = "hmac"
	// AuthMTLS requires a client certificate signed by HTTP_TLS_CLIENT_CA_FILE.
	AuthMTLS = "mtls"
)

// Config configures the HTTP ingest source. Field tags name the
// environment variables (with the SFCONNECT_ prefix).
type Config struct {
	Addr            string        `envconfig:"HTTP_ADDR" default:":8443" desc:"Address the ingest endpoint listens on (host:port)."`
	Endpoints       []string      `envconfig:"HTTP_ENDPOINTS" default:"outbound,webhook" desc:"Which endpoints to serve: outbound (SOAP Outbound Messages at POST /outbound) and webhook (JSON Apex callouts at POST /webhook)."`
	Objects         []string      `envconfig:"HTTP_OBJECTS" required:"true" desc:"sObjects accepted (Account,Invoice__c); a notification or event of any other object is rejected with 422. * accepts every object."`
	OrganizationID  string        `envconfig:"HTTP_ORGANIZATION_ID" desc:"The org id (15 or 18 characters) Outbound Messages must carry; required with the outbound endpoint."`
	TopicTemplate   string        `envconfig:"HTTP_TOPIC_TEMPLATE" default:"salesforce.{entity}" desc:"Kafka topic of each record; {entity} is the sObject, {endpoint} outbound or webhook."`
	OutboundAuth    string        `envconfig:"HTTP_OUTBOUND_AUTH" default:"secret" desc:"How Outbound Messages authenticate: secret (HTTP_SECRET as the token query parameter of the endpoint URL, since Salesforce cannot add headers) or mtls (Salesforce's client certificate)."`
	WebhookAuth     string        `envconfig:"HTTP_WEBHOOK_AUTH" default:"hmac" desc:"How webhooks authenticate: hmac (HMAC-SHA256 of the body with HTTP_SECRET in HTTP_SIGNATURE_HEADER), secret (HTTP_SECRET in HTTP_SECRET_HEADER) or mtls."`
	Secret          string        `envconfig:"HTTP_SECRET" secret:"true" desc:"Shared secret for secret and hmac authentication; at least 16 characters."`
	SecretHeader    string        `envconfig:"HTTP_SECRET_HEADER" default:"X-Sfconnect-Secret" desc:"Header carrying the shared secret (webhook secret authentication)."`
	SignatureHeader string        `envconfig:"HTTP_SIGNATURE_HEADER" default:"X-Sfconnect-Signature" desc:"Header carrying the hex HMAC-SHA256 of the body (webhook hmac authentication), optionally prefixed sha256=."`
	TLSCertFile     string        `envconfig:"HTTP_TLS_CERT_FILE" desc:"Server certificate (PEM); with HTTP_TLS_KEY_FILE the endpoint serves TLS 1.2+ only."`
	TLSKeyFile      string        `envconfig:"HTTP_TLS_KEY_FILE" desc:"Server private key (PEM)."`
	TLSClientCAFile string        `envconfig:"HTTP_TLS_CLIENT_CA_FILE" desc:"CA certificates (PEM) client certificates must chain to; required for mtls authentication."`
	MaxBodyBytes    int64         `envconfig:"HTTP_MAX_BODY_BYTES" default:"4194304" desc:"Largest request body accepted; larger bodies get 413. An Outbound Message of 100 notifications with many fields fits in the default 4 MiB."`
	MaxEvents       int           `envconfig:"HTTP_MAX_EVENTS" default:"200" desc:"Most events one webhook request may carry (Outbound Messages carry at most 100 notifications)."`
	RateLimit       float64       `envconfig:"HTTP_RATE_LIMIT" default:"0" desc:"Requests per second accepted per endpoint (token bucket); 0 is unlimited. Excess requests get 429 with Retry-After."`
	RateBurst       int           `envconfig:"HTTP_RATE_BURST" default:"100" desc:"Burst size of the rate limit."`
	AckTimeout      time.Duration `envconfig:"HTTP_ACK_TIMEOUT" default:"50s" desc:"How long a request waits for its records to be committed before it is answered 503 (SOAP fault); below Salesforce's 60 s Outbound Message timeout so the sender sees a clear failure."`
	MaxPending      int           `envconfig:"HTTP_MAX_PENDING" default:"20000" desc:"Records accepted but not yet committed; a request beyond it gets 503 so the sender retries later."`
	DedupTopic      string        `envconfig:"HTTP_DEDUP_TOPIC" desc:"Compacted topic holding the notification ids seen (written in the records' transaction); default sfconnect.dedup.<CONNECTOR_NAME>."`
	DedupWindow     time.Duration `envconfig:"HTTP_DEDUP_WINDOW" default:"25h" desc:"How long a notification id is remembered; Salesforce retries an Outbound Message for up to 24 hours."`
}

var (
	orgIDPattern  = regexp.MustCompile(`^00D[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$`)
	objectPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// minSecretLen is the shortest accepted shared secret: 16 characters
// resist guessing over the network for any practical rate limit.
const minSecretLen = 16

// Validate implements connectorlib.Validator.
func (c Config) Validate() error {
	p := connectorlib.EnvPrefix + "_"
	var errs []error
	if len(c.Endpoints) == 0 {
		errs = append(errs, fmt.Errorf("%sHTTP_ENDPOINTS: list at least one of outbound, webhook", p))
	}
	for _, e := range c.Endpoints {
		if e != EndpointOutbound && e != EndpointWebhook {
			errs = append(errs, fmt.Errorf("%sHTTP_ENDPOINTS: %q is not an endpoint (outbound or webhook)", p, e))
		}
	}
	if len(c.Objects) == 0 {
		errs = append(errs, fmt.Errorf("%sHTTP_OBJECTS: list at least one object, or *", p))
	}
	for _, o := range c.Objects {
		if o != "*" && !objectPattern.MatchString(o) {
			errs = append(errs, fmt.Errorf("%sHTTP_OBJECTS: %q is not an sObject name", p, o))
		}
	}
	needSecret, needMTLS := false, false
	if c.serves(EndpointOutbound) {
		switch {
		case c.OrganizationID == "":
			errs = append(errs, fmt.Errorf("%sHTTP_ORGANIZATION_ID: required with the outbound endpoint", p))
		case !orgIDPattern.MatchString(c.OrganizationID):
			errs = append(errs, fmt.Errorf("%sHTTP_ORGANIZATION_ID: %q is not an org id (00D followed by 12 or 15 characters)", p, c.OrganizationID))
		}
		switch c.OutboundAuth {
		case AuthSecret:
			needSecret = true
		case AuthMTLS:
			needMTLS = true
		default:
			errs = append(errs, fmt.Errorf("%sHTTP_OUTBOUND_AUTH: must be secret or mtls, got %q", p, c.OutboundAuth))
		}
	}
	if c.serves(EndpointWebhook) {
		switch c.WebhookAuth {
		case AuthSecret, AuthHMAC:
			needSecret = true
		case AuthMTLS:
			needMTLS = true
		default:
			errs = append(errs, fmt.Errorf("%sHTTP_WEBHOOK_AUTH: must be hmac, secret or mtls, got %q", p, c.WebhookAuth))
		}
	}
	if needSecret && len(c.Secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("%sHTTP_SECRET: required, at least %d characters, for secret and hmac authentication", p, minSecretLen))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("%sHTTP_TLS_CERT_FILE and %sHTTP_TLS_KEY_FILE: set both or neither", p, p))
	}
	if needMTLS && (c.TLSClientCAFile == "" || c.TLSCertFile == "") {
		errs = append(errs, fmt.Errorf("%sHTTP_TLS_CLIENT_CA_FILE: mtls authentication needs it and a server certificate (%sHTTP_TLS_CERT_FILE)", p, p))
	}
	for name, f := range map[string]string{"HTTP_TLS_CERT_FILE": c.TLSCertFile, "HTTP_TLS_KEY_FILE": c.TLSKeyFile, "HTTP_TLS_CLIENT_CA_FILE": c.TLSClientCAFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w", p, name, err))
		}
	}
	if strings.TrimSpace(c.TopicTemplate) == "" {
		errs = append(errs, fmt.Errorf("%sHTTP_TOPIC_TEMPLATE: must not be empty", p))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("%sHTTP_MAX_BODY_BYTES: must be at least 1024", p))
	}
	if c.MaxEvents < 1 {
		errs = append(errs, fmt.Errorf("%sHTTP_MAX_EVENTS: must be at least 1", p))
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("%sHTTP_RATE_LIMIT: must not be negative", p))
	}
	if c.RateLimit > 0 && c.RateBurst < 1 {
		errs = append(errs, fmt.Errorf("%sHTTP_RATE_BURST: must be at least 1", p))
	}
	if c.AckTimeout < time.Second {
		errs = append(errs, fmt.Errorf("%sHTTP_ACK_TIMEOUT: must be at least 1s", p))
	}
	if c.MaxPending < 1 {
		errs = append(errs, fmt.Errorf("%sHTTP_MAX_PENDING: must be at least 1", p))
	}
	if c.DedupWindow < time.Minute {
		errs = append(errs, fmt.Errorf("%sHTTP_DEDUP_WINDOW: must be at least 1m", p))
	}
	return errors.Join(errs...)
}

func (c Config) serves(endpoint string) bool { return slices.Contains(c.Endpoints, endpoint) }

// dedupTopic returns the dedup topic of connector.
func (c Config) dedupTopic(connector string) string {
	if c.DedupTopic != "" {
		return c.DedupTopic
	}
	return "sfconnect.dedup." + connector
}

// acceptsObject reports whether object is configured. Even with * only
// API names are accepted: the name becomes part of a topic name.
func (c Config) acceptsObject(object string) bool {
	return objectPattern.MatchString(object) && (slices.Contains(c.Objects, "*") || slices.Contains(c.Objects, object))
}

// ServerTLS returns the server's TLS configuration, or nil for plain HTTP.
// TLS 1.2 is the floor (Salesforce sends with TLS 1.2 or 1.3); Go's default
// cipher suites for 1.2 are the AEAD ECDHE ones only.
func (c Config) ServerTLS() (*tls.Config, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.TLSClientCAFile != "" {
		pem, err := os.ReadFile(c.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read client CA %s: no PEM certificate", c.TLSClientCAFile)
		}
		cfg.ClientCAs = pool
		// Verified when given: an endpoint with another method (a webhook
		// with hmac) must still be reachable without a certificate; the
		// mtls endpoints require a verified chain themselves.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
