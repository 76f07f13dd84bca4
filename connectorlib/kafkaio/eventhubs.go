package kafkaio

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

const (
	// eventHubsKafkaPort is the port of the Event Hubs Kafka endpoint; it
	// only accepts TLS.
	eventHubsKafkaPort = "9093"
	// eventHubsSASLUser is the fixed SASL PLAIN user name the Event Hubs
	// Kafka endpoint expects when the password is a connection string.
	eventHubsSASLUser = "$ConnectionString"
)

// eventHubsConn holds the non-secret parts of an Event Hubs connection
// string.
type eventHubsConn struct {
	host       string // NAMESPACE.servicebus.windows.net
	entityPath string // optional event hub name
}

func (e *eventHubsConn) broker() string { return net.JoinHostPort(e.host, eventHubsKafkaPort) }

// mechanism returns SASL PLAIN with the whole connection string as the
// password, as the Event Hubs Kafka endpoint requires.
func (e *eventHubsConn) mechanism(connStr string) sasl.Mechanism {
	return plain.Auth{User: eventHubsSASLUser, Pass: connStr}.AsMechanism()
}

// eventHubs parses the connection string, if set, and reports explicit
// settings that conflict with it. It returns nil when the string is unset or
// malformed.
func (c Config) eventHubs() (*eventHubsConn, []error) {
	if c.EventHubsConnectionString == "" {
		return nil, nil
	}
	var errs []error
	eh, err := parseEventHubsConnectionString(c.EventHubsConnectionString)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envEventHubsConnection, err))
	}

	conflict := func(name, why string) {
		errs = append(errs, fmt.Errorf("%s: %s when %s is set", name, why, envEventHubsConnection))
	}
	if len(c.Brokers) > 0 {
		conflict(envBrokers, "must be empty (the broker comes from the Endpoint)")
	}
	if m := strings.ToUpper(strings.TrimSpace(c.SASLMechanism)); m != "" && m != mechPlain {
		conflict(envSASLMechanism, "must be empty or PLAIN (Event Hubs uses SASL PLAIN)")
	}
	if c.SASLUsername != "" && c.SASLUsername != eventHubsSASLUser {
		conflict(envSASLUsername, "must be empty or $ConnectionString")
	}
	if c.SASLPassword != "" {
		conflict(envSASLPassword, "must be empty (the connection string is the password)")
	}
	if c.SASLOAuthTokenFile != "" {
		conflict(envSASLOAuthTokenFile, "must be empty")
	}
	if c.SASLOAuthToken != "" {
		conflict(envSASLOAuthToken, "must be empty")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return eh, nil
}

// parseEventHubsConnectionString parses
//
//	Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=NAME;SharedAccessKey=KEY[;EntityPath=HUB]
//
// (or SharedAccessSignature=... instead of the key pair). Keys are matched
// case-insensitively and unknown keys are ignored. Errors say which part is
// wrong but never repeat any of the input: a malformed string may hold the
// key anywhere.
func parseEventHubsConnectionString(s string) (*eventHubsConn, error) {
	fields := map[string]string{}
	for i, part := range strings.Split(strings.TrimSpace(s), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue // trailing or doubled separator
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("parse connection string: part %d is not key=value", i+1)
		}
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("parse connection string: part %d repeats a key", i+1)
		}
		fields[k] = strings.TrimSpace(v)
	}

	endpoint, ok := fields["endpoint"]
	if !ok || endpoint == "" {
		return nil, errors.New("parse connection string: Endpoint is missing")
	}
	const scheme = "sb://"
	if len(endpoint) < len(scheme) || !strings.EqualFold(endpoint[:len(scheme)], scheme) {
		return nil, errors.New("parse connection string: Endpoint must start with sb://")
	}
	host := strings.TrimSuffix(endpoint[len(scheme):], "/")
	if host == "" || strings.ContainsAny(host, "/:@?# \t") {
		return nil, errors.New("parse connection string: Endpoint must be sb://NAMESPACE.servicebus.windows.net/")
	}

	if fields["sharedaccesssignature"] == "" {
		if fields["sharedaccesskeyname"] == "" {
			return nil, errors.New("parse connection string: SharedAccessKeyName is missing")
		}
		if fields["sharedaccesskey"] == "" {
			return nil, errors.New("parse connection string: SharedAccessKey is missing")
		}
	}
	return &eventHubsConn{host: strings.ToLower(host), entityPath: fields["entitypath"]}, nil
}
