package cometd

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
)

// Defaults.
const (
	// DefaultAPIVersion is the API version of the /cometd/{version} path.
	DefaultAPIVersion = "62.0"
	// DefaultLongPollTimeout is the margin added to the server's
	// advice.timeout to bound a /meta/connect: cometd's maxNetworkDelay
	// (protocol reference §4.4).
	DefaultLongPollTimeout = 10 * time.Second
	// defaultAdviceTimeout is the long-poll duration assumed until the
	// server advises one: Salesforce holds connects for 110 s (§4.3).
	defaultAdviceTimeout = 110 * time.Second
)

// Config configures a Client.
type Config struct {
	// Tokens supplies access tokens and the instance URL. Required.
	Tokens salesforce.TokenProvider
	// HTTPClient sends the requests; nil means a client with
	// http.DefaultTransport. Each subscription uses a copy with its own
	// cookie jar (replacing any Jar), so the client is never modified. Its
	// Timeout, if set, must exceed the long poll (110 s plus
	// LongPollTimeout); leave it zero, as requests are bounded per request.
	HTTPClient *http.Client
	// APIVersion is the Streaming API version, e.g. "62.0" (the default).
	// Salesforce serves 37.0 and later.
	APIVersion string
	// LongPollTimeout is the margin added to the server's advice.timeout
	// (110 s on Salesforce) to bound a /meta/connect on the client side; it
	// alone bounds the other requests. Zero means DefaultLongPollTimeout.
	LongPollTimeout time.Duration
}

// Client opens Streaming API subscriptions. Safe for concurrent use.
type Client struct {
	cfg Config

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// New returns a Client. Missing settings take their defaults; a missing
// Tokens is reported by Subscribe.
func New(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.LongPollTimeout <= 0 {
		cfg.LongPollTimeout = DefaultLongPollTimeout
	}
	return &Client{cfg: cfg, subs: map[*Subscription]struct{}{}}
}

// Subscribe opens a Bayeux session and subscribes it to channel (for
// example /data/AccountChangeEvent, /event/Order__e or /topic/Name).
// replayFrom is -1 for new events only, -2 for every retained event, or a
// stored replay id to resume after. Events are then read with Recv.
//
// Each call is its own session with one channel (see the package doc). An
// invalid replay id fails with an error wrapping ErrInvalidReplayID, a
// rejected token (after one Invalidate and retry) with ErrAuth; other
// errors are classified retryable or permanent for connectorlib.
func (c *Client) Subscribe(ctx context.Context, channel string, replayFrom int64) (*Subscription, error) {
	if c.cfg.Tokens == nil {
		return nil, connectorlib.Permanent(fmt.Errorf("subscribe %s: %w: tokens: required", channel, ErrInvalidConfig))
	}
	if !strings.HasPrefix(channel, "/") || strings.HasPrefix(channel, "/meta/") {
		return nil, connectorlib.Permanent(fmt.Errorf("subscribe %s: %w: channel must start with '/' and not be a meta channel", channel, ErrInvalidConfig))
	}
	if replayFrom < replayAll {
		return nil, connectorlib.Permanent(fmt.Errorf("subscribe %s: replay from %d: %w", channel, replayFrom, ErrInvalidReplayID))
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: cookie jar: %w", channel, err)
	}
	hc := *c.cfg.HTTPClient
	hc.Jar = jar
	closeCtx, closeCancel := context.WithCancel(context.Background())
	s := &Subscription{
		client: c, channel: channel, hc: &httpClient{&hc}, last: replayFrom,
		closeCtx: closeCtx, closeCancel: closeCancel,
		needHandshake: true,
	}
	if err := s.establish(ctx); err != nil {
		closeCancel()
		return nil, fmt.Errorf("subscribe %s: %w", channel, err)
	}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	return s, nil
}

// Close closes every open subscription of the client, each sending
// /meta/disconnect best effort within ctx. It returns nil; it is
// idempotent, and the Client may still Subscribe afterwards.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	subs := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	for _, s := range subs {
		_ = s.Close(ctx)
	}
	return nil
}

// forget drops a closed subscription.
func (c *Client) forget(s *Subscription) {
	c.mu.Lock()
	delete(c.subs, s)
	c.mu.Unlock()
}
