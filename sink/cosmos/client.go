package cosmos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// newClient builds the Cosmos DB client. It makes no network call.
func (s *Sink) newClient() (*azcosmos.Client, error) {
	hc, err := s.httpClient()
	if err != nil {
		return nil, err
	}
	opts := &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: hc,
		// The sink retries itself (call): it honours 429 delays without a
		// cap on attempts, counts every retry by status, and keeps the
		// SDK from replaying a write behind the version guard's back.
		Retry:            policy.RetryOptions{MaxRetries: -1},
		PerRetryPolicies: []policy.Policy{&observer{m: s.metrics}},
		Telemetry:        policy.TelemetryOptions{ApplicationID: "sfconnect"},
	}}
	if s.cfg.Key != "" {
		cred, err := azcosmos.NewKeyCredential(s.cfg.Key)
		if err != nil {
			// The SDK's message is about base64; the key itself is never
			// part of an error.
			return nil, connectorlib.Permanent(fmt.Errorf("%s_COSMOS_KEY: not a valid account key (base64)", connectorlib.EnvPrefix))
		}
		return azcosmos.NewClientWithKey(s.cfg.Endpoint, cred, opts)
	}
	cred := s.deps.Credential
	if cred == nil {
		dc, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: azcore.ClientOptions{Transport: hc},
		})
		if err != nil {
			return nil, connectorlib.Permanent(fmt.Errorf("entra id credential (no %s_COSMOS_KEY set): %w", connectorlib.EnvPrefix, err))
		}
		cred = dc
	}
	return azcosmos.NewClient(s.cfg.Endpoint, cred, opts)
}

// httpClient is the HTTP client of every Cosmos DB request: TLS verified
// (against the system roots plus CAFile), connections kept alive and
// enough of them for the configured concurrency.
func (s *Sink) httpClient() (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case s.cfg.InsecureSkipVerify:
		tc.InsecureSkipVerify = true //nolint:gosec // explicitly requested for a throwaway local emulator
	case s.cfg.CAFile != "":
		pem, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, connectorlib.Permanent(fmt.Errorf("%s_COSMOS_CA_FILE: %w", connectorlib.EnvPrefix, err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, connectorlib.Permanent(fmt.Errorf("%s_COSMOS_CA_FILE: %s holds no PEM certificate", connectorlib.EnvPrefix, s.cfg.CAFile))
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		// Write runs for several partitions at once, each with up to
		// Concurrency requests: keep that many connections alive, or every
		// request above the idle limit pays a new TLS handshake (on both
		// sides).
		MaxIdleConns:        maxIdleConns,
		MaxIdleConnsPerHost: maxIdleConns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	s.transport = tr
	return &http.Client{Transport: tr}, nil
}

// maxIdleConns bounds the idle connections kept to Cosmos DB: enough for
// the runtime's default 8 partitions at the default concurrency.
const maxIdleConns = 256

// observer counts every response and the request units it cost.
type observer struct{ m *Metrics }

// Do implements policy.Policy.
func (o *observer) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if resp != nil {
		o.m.Responses.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
		if ru, perr := strconv.ParseFloat(resp.Header.Get("x-ms-request-charge"), 64); perr == nil && ru > 0 {
			o.m.RequestCharge.WithLabelValues(operationOf(req.Raw())).Add(ru)
		}
	}
	return resp, err
}

// operationOf names the kind of a Cosmos DB request for the request-unit
// metric.
func operationOf(r *http.Request) string {
	switch {
	case r.Method == http.MethodGet:
		return "read"
	case r.Method == http.MethodPost && r.Header.Get("x-ms-documentdb-isquery") == "true":
		return "query"
	case r.Method == http.MethodPost:
		return "create"
	case r.Method == http.MethodPut:
		return "replace"
	case r.Method == http.MethodDelete:
		return "delete"
	case r.Method == http.MethodPatch:
		return "patch"
	}
	return "other"
}

// ensureContainer checks that the container exists with the configured
// partition key, creating the database and the container first when
// CreateIfMissing is set.
func (s *Sink) ensureContainer(ctx context.Context) error {
	if s.cfg.CreateIfMissing {
		err := s.call(ctx, func(ctx context.Context) error {
			_, err := s.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: s.cfg.Database}, nil)
			return err
		})
		if err != nil && statusOf(err) != http.StatusConflict {
			return fmt.Errorf("create database %s: %w", s.cfg.Database, err)
		}
		db, err := s.client.NewDatabase(s.cfg.Database)
		if err != nil {
			return err
		}
		// TTL on, without a default expiry: only tombstones with their own
		// ttl expire (COSMOS_TOMBSTONE_TTL).
		ttlOn := int32(-1)
		props := azcosmos.ContainerProperties{
			ID:                     s.cfg.Container,
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{s.cfg.PartitionKey}},
			DefaultTimeToLive:      &ttlOn,
		}
		var copts *azcosmos.CreateContainerOptions
		if s.cfg.Throughput > 0 {
			tp := azcosmos.NewManualThroughputProperties(s.cfg.Throughput)
			copts = &azcosmos.CreateContainerOptions{ThroughputProperties: &tp}
		}
		err = s.call(ctx, func(ctx context.Context) error {
			_, err := db.CreateContainer(ctx, props, copts)
			return err
		})
		if err != nil && statusOf(err) != http.StatusConflict {
			return fmt.Errorf("create container %s/%s: %w", s.cfg.Database, s.cfg.Container, err)
		}
	}
	var props *azcosmos.ContainerProperties
	err := s.call(ctx, func(ctx context.Context) error {
		resp, err := s.container.Read(ctx, nil)
		props = resp.ContainerProperties
		return err
	})
	switch {
	case statusOf(err) == http.StatusNotFound:
		return connectorlib.Permanent(fmt.Errorf("container %s/%s does not exist (set %s_COSMOS_CREATE_IF_MISSING=true to create it)",
			s.cfg.Database, s.cfg.Container, connectorlib.EnvPrefix))
	case err != nil:
		return fmt.Errorf("read container %s/%s: %w", s.cfg.Database, s.cfg.Container, err)
	case props == nil:
		return errors.New("read container: empty response")
	}
	if paths := props.PartitionKeyDefinition.Paths; len(paths) != 1 || paths[0] != s.cfg.PartitionKey {
		return connectorlib.Permanent(fmt.Errorf("%s_COSMOS_PARTITION_KEY_PATH is %s but container %s is partitioned by %v",
			connectorlib.EnvPrefix, s.cfg.PartitionKey, s.cfg.Container, paths))
	}
	return nil
}
