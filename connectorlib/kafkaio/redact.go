package kafkaio

import (
	"fmt"
	"log/slog"
	"strings"
)

// redacted replaces a set secret; an unset one stays empty so that the output
// still tells whether it was set.
const redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// attrs lists the settings in declaration order, with secrets redacted. It
// is the single source for String and LogValue.
func (c Config) attrs() []slog.Attr {
	a := []slog.Attr{
		slog.Any("brokers", c.Brokers),
		slog.String("client_id", c.ClientID),
		slog.Bool("tls_enabled", c.TLSEnabled),
		slog.String("tls_ca_file", c.TLSCAFile),
		slog.String("tls_cert_file", c.TLSCertFile),
		slog.String("tls_key_file", c.TLSKeyFile),
		slog.String("tls_server_name", c.TLSServerName),
		slog.Bool("tls_insecure_skip_verify", c.TLSInsecureSkipVerify),
		slog.String("sasl_mechanism", c.SASLMechanism),
		slog.String("sasl_username", c.SASLUsername),
		slog.String("sasl_password", redact(c.SASLPassword)),
		slog.String("sasl_oauth_token_file", c.SASLOAuthTokenFile),
		slog.String("sasl_oauth_token", redact(c.SASLOAuthToken)),
		slog.String("eventhubs_connection_string", redact(c.EventHubsConnectionString)),
	}
	// The namespace host is not secret and is what an operator needs to
	// see; it is shown only when the string parses, since a malformed one
	// may carry the key in an unexpected place.
	if c.EventHubsConnectionString != "" {
		if eh, err := parseEventHubsConnectionString(c.EventHubsConnectionString); err == nil {
			a = append(a, slog.String("eventhubs_namespace", eh.host))
			if eh.entityPath != "" {
				a = append(a, slog.String("eventhubs_entity_path", eh.entityPath))
			}
		}
	}
	return append(a,
		slog.Duration("dial_timeout", c.DialTimeout),
		slog.Duration("request_timeout_overhead", c.RequestTimeoutOverhead),
	)
}

// String returns the settings as key=value pairs with secrets replaced by
// [REDACTED].
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("kafkaio.Config{")
	for i, a := range c.attrs() {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%v", a.Key, a.Value)
	}
	b.WriteString("}")
	return b.String()
}

// GoString implements fmt.GoStringer, so that %#v is redacted as well.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb (%v, %+v, %#v, %s, %d, ...)
// prints String, so that no verb falls back to printing the raw fields.
func (c Config) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprint(f, c.String())
}

// LogValue implements slog.LogValuer: a group of the settings with secrets
// replaced by [REDACTED].
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(c.attrs()...)
}
