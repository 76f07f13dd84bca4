package sfsim

import (
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
)

// Default credentials of the simulated org's integration user and
// connected app.
const (
	DefaultClientID     = "sim-client"
	DefaultClientSecret = "sim-secret"
	DefaultUsername     = "admin@sim.local"
	DefaultPassword     = "sim-password"
	DefaultOrgID        = "00D8a00000SIMRGEA5"
	DefaultUserID       = "0058a00000SIMUSAA5"
)

// Opt configures a Sim; options are applied in order by New.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	httpAddr, grpcAddr string
	plaintext          bool
	certPEM, keyPEM    []byte
	clientID, secret   string
	username, password string
	jwtCertPEM         []byte
	tokenTTL           time.Duration
	retention          time.Duration
	apiLimit           int
	objects            []salesforce.SObjectDescribe
	platformEvents     map[string][]salesforce.Field
	customChannels     map[string][]string
	idleTimeout        time.Duration
	keepAlive          time.Duration
	longPoll           time.Duration
}

func defaultConfig() *config {
	return &config{
		httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0",
		clientID: DefaultClientID, secret: DefaultClientSecret, username: DefaultUsername, password: DefaultPassword,
		tokenTTL: 2 * time.Hour, apiLimit: 100_000,
		platformEvents: map[string][]salesforce.Field{}, customChannels: map[string][]string{},
	}
}

// HTTPAddr sets the listen address of the REST, OAuth and CometD surface
// (default 127.0.0.1:0, a free port).
func HTTPAddr(addr string) Opt { return optFunc(func(c *config) { c.httpAddr = addr }) }

// GRPCAddr sets the listen address of the Pub/Sub API (default
// 127.0.0.1:0).
func GRPCAddr(addr string) Opt { return optFunc(func(c *config) { c.grpcAddr = addr }) }

// Plaintext serves HTTP and gRPC without TLS. Real Pub/Sub clients (the
// Node client) require TLS; sfconnect's own client accepts either.
func Plaintext() Opt { return optFunc(func(c *config) { c.plaintext = true }) }

// TLSKeyPair serves TLS with the given PEM certificate and key instead of
// a generated self-signed certificate.
func TLSKeyPair(certPEM, keyPEM []byte) Opt {
	return optFunc(func(c *config) { c.certPEM, c.keyPEM = certPEM, keyPEM })
}

// Credentials sets the connected app's client id and secret and the
// integration user's username and password.
func Credentials(clientID, secret, username, password string) Opt {
	return optFunc(func(c *config) { c.clientID, c.secret, c.username, c.password = clientID, secret, username, password })
}

// JWTCertificate sets the PEM certificate whose key signs JWT bearer
// assertions; without it the JWT bearer grant is refused.
func JWTCertificate(certPEM []byte) Opt { return optFunc(func(c *config) { c.jwtCertPEM = certPEM }) }

// TokenTTL sets how long access tokens live (default 2 hours).
func TokenTTL(d time.Duration) Opt { return optFunc(func(c *config) { c.tokenTTL = d }) }

// Retention sets the event retention window (default 72 hours).
func Retention(d time.Duration) Opt { return optFunc(func(c *config) { c.retention = d }) }

// APILimit sets the daily API request budget (default 100,000).
func APILimit(n int) Opt { return optFunc(func(c *config) { c.apiLimit = n }) }

// Objects adds sObjects (typically custom objects) to the standard ones.
func Objects(ds ...salesforce.SObjectDescribe) Opt {
	return optFunc(func(c *config) { c.objects = append(c.objects, ds...) })
}

// PlatformEvent defines the platform event /event/<name> (name ends in
// __e) with its custom fields.
func PlatformEvent(name string, fields ...salesforce.Field) Opt {
	return optFunc(func(c *config) { c.platformEvents[name] = fields })
}

// CustomChannel defines the change event channel /data/<Name>__chn
// carrying the change events of objects.
func CustomChannel(channel string, objects ...string) Opt {
	return optFunc(func(c *config) { c.customChannels[channel] = objects })
}

// StreamTimeouts sets the Pub/Sub idle-close and keepalive intervals and
// the CometD long-poll timeout (defaults 60 s, 270 s and 110 s, as
// Salesforce); tests shorten them.
func StreamTimeouts(idle, keepAlive, longPoll time.Duration) Opt {
	return optFunc(func(c *config) { c.idleTimeout, c.keepAlive, c.longPoll = idle, keepAlive, longPoll })
}
