package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanism names, as Kafka spells them.
const (
	mechPlain       = "PLAIN"
	mechScram256    = "SCRAM-SHA-256"
	mechScram512    = "SCRAM-SHA-512"
	mechOAuthBearer = "OAUTHBEARER"
)

// saslMechanism builds the SASL mechanism for the explicit SASL settings, or
// returns nil when SASL is off. Settings that the chosen mechanism would
// ignore are errors, so that a typo in the mechanism cannot silently drop
// authentication.
func (c Config) saslMechanism() (sasl.Mechanism, []error) {
	mech := strings.ToUpper(strings.TrimSpace(c.SASLMechanism))
	set := map[string]bool{
		envSASLUsername:       c.SASLUsername != "",
		envSASLPassword:       c.SASLPassword != "",
		envSASLOAuthTokenFile: c.SASLOAuthTokenFile != "",
		envSASLOAuthToken:     c.SASLOAuthToken != "",
	}
	unused := func(names ...string) []error {
		var errs []error
		for _, n := range names {
			if !set[n] {
				continue
			}
			if mech == "" {
				errs = append(errs, fmt.Errorf("%s: set but %s is empty", n, envSASLMechanism))
			} else {
				errs = append(errs, fmt.Errorf("%s: not used when %s is %s", n, envSASLMechanism, mech))
			}
		}
		return errs
	}

	switch mech {
	case "":
		return nil, unused(envSASLUsername, envSASLPassword, envSASLOAuthTokenFile, envSASLOAuthToken)

	case mechPlain, mechScram256, mechScram512:
		errs := unused(envSASLOAuthTokenFile, envSASLOAuthToken)
		if !set[envSASLUsername] {
			errs = append(errs, fmt.Errorf("%s: required when %s is %s", envSASLUsername, envSASLMechanism, mech))
		}
		if !set[envSASLPassword] {
			errs = append(errs, fmt.Errorf("%s: required when %s is %s", envSASLPassword, envSASLMechanism, mech))
		}
		if len(errs) > 0 {
			return nil, errs
		}
		user, pass := c.SASLUsername, c.SASLPassword
		switch mech {
		case mechPlain:
			return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
		case mechScram256:
			return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
		default:
			return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
		}

	case mechOAuthBearer:
		errs := unused(envSASLUsername, envSASLPassword)
		switch {
		case set[envSASLOAuthTokenFile] && set[envSASLOAuthToken]:
			errs = append(errs, fmt.Errorf("%s: set together with %s; set only one", envSASLOAuthToken, envSASLOAuthTokenFile))
		case set[envSASLOAuthToken]:
			if len(errs) > 0 {
				return nil, errs
			}
			return oauth.Auth{Token: strings.TrimSpace(c.SASLOAuthToken)}.AsMechanism(), nil
		case set[envSASLOAuthTokenFile]:
			if _, err := readToken(c.SASLOAuthTokenFile); err != nil {
				errs = append(errs, err)
			}
			if len(errs) > 0 {
				return nil, errs
			}
			return tokenFileMechanism(c.SASLOAuthTokenFile), nil
		default:
			errs = append(errs, fmt.Errorf("%s: required (or %s) when %s is %s", envSASLOAuthTokenFile, envSASLOAuthToken, envSASLMechanism, mech))
		}
		return nil, errs

	default:
		return nil, []error{fmt.Errorf("%s: unsupported mechanism %q, want one of %s, %s, %s, %s or empty",
			envSASLMechanism, c.SASLMechanism, mechPlain, mechScram256, mechScram512, mechOAuthBearer)}
	}
}

// tokenFileMechanism returns an OAUTHBEARER mechanism that reads the token
// from path on every authentication, so that a token rotated on disk (for
// example by a sidecar refreshing a workload identity token) is used by the
// next connection without a restart.
func tokenFileMechanism(path string) sasl.Mechanism {
	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		tok, err := readToken(path)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok}, nil
	})
}

// readToken reads a bearer token file. The error names the variable and the
// path, never the content.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: read file: %w", envSASLOAuthTokenFile, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s: read file: %w", envSASLOAuthTokenFile, errEmptyToken)
	}
	return tok, nil
}

var errEmptyToken = errors.New("file is empty")
