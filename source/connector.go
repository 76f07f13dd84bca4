package source

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cometd"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
)

// Deps are what the source needs besides its configuration.
type Deps struct {
	// Connector is the connector name (default dead-letter topic).
	Connector string
	// Tokens authenticates every Salesforce call.
	Tokens salesforce.TokenProvider
	// HTTPClient carries the TLS settings of Salesforce calls (REST,
	// CometD); the Pub/Sub connection uses the same TLS settings.
	HTTPClient *http.Client
	// REST reads records for gap repair and resync; nil disables both
	// (a gap event then stops the source with an error).
	REST restClient
	// APIVersion is the Salesforce API version (CometD endpoint).
	APIVersion string
	// Values encodes envelopes; nil means JSON.
	Values ValueEncoder
	// Metrics and Logger; nil means unregistered metrics and no logs.
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Connector holds what outlives one runner session: the Pub/Sub
// connection. Its Factory builds a fresh Source per session.
type Connector struct {
	cfg    Config
	deps   Deps
	pubsub *pubsub.Client
}

// New prepares the source connector; for the Pub/Sub transport it dials
// the API (without blocking).
func New(ctx context.Context, cfg Config, deps Deps) (*Connector, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil, deps.Connector)
	}
	deps.Metrics.setReplayPolicy(cfg.OnInvalidReplay)
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Values == nil {
		deps.Values = JSONEncoder{}
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = http.DefaultClient
	}
	c := &Connector{cfg: cfg, deps: deps}
	if cfg.Transport == TransportPubSub {
		var tlsCfg *tls.Config
		if !cfg.PubSubPlaintext {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
			if tr, ok := deps.HTTPClient.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
				tlsCfg = tr.TLSClientConfig.Clone()
			}
		}
		cl, err := pubsub.Dial(ctx, pubsub.DialConfig{Endpoint: cfg.PubSubEndpoint, TLS: tlsCfg, Tokens: deps.Tokens})
		if err != nil {
			return nil, fmt.Errorf("dial Pub/Sub API at %s: %w", cfg.PubSubEndpoint, err)
		}
		c.pubsub = cl
	}
	return c, nil
}

// DLQTopic returns the source's dead-letter topic.
func (c *Connector) DLQTopic() string {
	if c.cfg.DLQTopic != "" {
		return c.cfg.DLQTopic
	}
	return "sfconnect.dlq." + c.deps.Connector
}

// Factory returns the runner's source factory.
func (c *Connector) Factory() connectorlib.SourceFactory {
	return func() (connectorlib.Source, error) {
		s := &Source{
			cfg: c.cfg, rest: c.deps.REST, metrics: c.deps.Metrics, log: c.deps.Logger, now: c.deps.Now,
			maker: &recordMaker{cfg: &c.cfg, values: c.deps.Values, dlq: c.DLQTopic(), peKey: c.cfg.PlatformEventKey},
		}
		if c.cfg.Transport == TransportPubSub {
			s.open = pubsubOpener(s, c.pubsub)
		} else {
			s.open = cometdOpener(s, func() *cometd.Client {
				return cometd.New(cometd.Config{Tokens: c.deps.Tokens, HTTPClient: c.deps.HTTPClient, APIVersion: c.deps.APIVersion})
			})
		}
		return s, nil
	}
}

// Close releases the Pub/Sub connection.
func (c *Connector) Close() error {
	if c.pubsub != nil {
		return c.pubsub.Close()
	}
	return nil
}
