package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/sink/cosmos"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
	sfsource "github.com/sfconnect/sfconnect/source"
)

// Names of the development stack's topics, connectors and container.
const (
	devSourceTopic     = "salesforce.Account"
	devWebAppTopic     = "webapp.changes"
	devConflictsTopic  = "sfconnect.conflicts.dev-salesforce"
	devCosmosDatabase  = "webapp"
	devCosmosContainer = "accounts"
	// devSinkClientID is what the Salesforce sink stamps on its writes
	// (Sforce-Call-Options) and the source recognises as its own.
	devSinkClientID = "sfconnect-dev-sink"
)

// devWiring runs the three connectors of the loop on one broker, one
// simulated org and one Cosmos container: the source (Salesforce → Kafka,
// tagging the sink's own writes), the Cosmos sink (Kafka → the web app's
// container, tagged changes included) and the Salesforce sink (web-app
// changes → Salesforce).
type devWiring struct {
	sim     *sfsim.Sim
	cosmos  *cosmosStandIn
	brokers []string
	dir     string
	log     *slog.Logger

	reg       *prometheus.Registry
	producer  *kgo.Client               // web-app changes and conflicts
	container *azcosmos.ContainerClient // what the page reads
	closers   []func()
	running   sync.WaitGroup
}

// start starts the connectors; the returned channel receives the first
// one's failure.
func (w *devWiring) start(ctx context.Context) (<-chan error, error) {
	w.reg = prometheus.NewRegistry()
	runtime := connectorlib.NewMetrics(w.reg)
	kafka := []kgo.Opt{kgo.SeedBrokers(w.brokers...)}
	var err error
	if w.producer, err = kgo.NewClient(kafka...); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.producer.Close)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = kafkaio.EnsureTopics(tctx, kadm.NewClient(w.producer),
		kafkaio.TopicSpec{Name: devSourceTopic, Partitions: 3, ReplicationFactor: -1},
		kafkaio.TopicSpec{Name: devWebAppTopic, Partitions: 3, ReplicationFactor: -1},
		kafkaio.DLQTopic(devConflictsTopic, -1))
	if err != nil {
		return nil, fmt.Errorf("create the topics: %w", err)
	}

	caFile := filepath.Join(w.dir, "sfsim-ca.pem")
	if err := os.WriteFile(caFile, w.sim.CACertPEM(), 0o600); err != nil {
		return nil, err
	}
	auth := salesforce.AuthConfig{LoginURL: w.sim.URL(), Flow: salesforce.FlowClientCredentials,
		ClientID: sfsim.DefaultClientID, ClientSecret: sfsim.DefaultClientSecret, CAFile: caFile}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		return nil, err
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, hc.CloseIdleConnections)

	// The source: Account changes and Order__e events; the sink's own
	// writes are tagged, not dropped, so the container still gets them.
	srcCfg := sfsource.Config{
		Channels: []string{"/data/AccountChangeEvent", "/event/Order__e"}, Transport: sfsource.TransportPubSub,
		PubSubEndpoint: w.sim.GRPCAddr(), Appetite: 100, InitialReplay: sfsource.ReplayEarliest,
		OnInvalidReplay: sfsource.ReplayFail, ResyncBuffer: 5 * time.Minute, TopicTemplate: "salesforce.{entity}",
		LoopClientIDs: []string{devSinkClientID}, LoopAction: sfsource.LoopTag, GapRepair: true,
	}
	src, err := sfsource.New(ctx, srcCfg, sfsource.Deps{
		Connector: "dev-source", Tokens: tokens, HTTPClient: hc, APIVersion: salesforce.DefaultAPIVersion,
		REST: salesforce.NewClient(tokens, hc, salesforce.ClientConfig{}), Logger: w.log,
		Metrics: sfsource.NewMetrics(w.reg, "dev-source"),
	})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { _ = src.Close() })
	srcRunner := connectorlib.NewSourceRunner(connectorlib.SourceConfig{
		Name: "dev-source", StreamGroup: "0", DeliveryMode: connectorlib.DeliveryExactlyOnce, MaxInFlight: 10000,
		OffsetFlushInterval: 200 * time.Millisecond, TransactionTimeout: time.Minute, TransactionLinger: 5 * time.Millisecond,
		TopicAutoCreate: true, TopicPartitions: 3, TopicReplication: -1, ShutdownTimeout: 10 * time.Second,
		RestartBackoffMax: 5 * time.Second,
	}, src.Factory(), connectorlib.Deps{Kafka: kafka, Logger: w.log, Metrics: runtime})

	// The Cosmos sink: the source's Account topic into the web app's
	// container.
	cosmosCfg := cosmos.Config{
		Endpoint: w.cosmos.endpoint, Key: cosmosKey, CAFile: w.cosmos.caFile, Database: devCosmosDatabase,
		Container: devCosmosContainer, CreateIfMissing: true, PartitionKey: "/id", WriteStrategy: cosmos.StrategyOverwrite,
		IDTemplate: "{id}", DeleteMode: cosmos.DeleteHard, DocumentCache: 10000, Concurrency: 16,
		RequestTimeout: 10 * time.Second, RetryMaxAttempts: 8, RetryInitial: 100 * time.Millisecond, ThrottleMaxWait: 2 * time.Minute,
	}
	cosmosSink, err := cosmos.New(cosmosCfg, cosmos.Deps{Metrics: cosmos.NewMetrics(w.reg, "dev-cosmos"), Logger: w.log})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { _ = cosmosSink.Close(context.Background()) })
	cosmosRunner := connectorlib.NewSinkRunner(devSinkRunnerConfig("dev-cosmos", devSourceTopic), cosmosSink,
		connectorlib.Deps{Kafka: kafka, Logger: w.log, Metrics: runtime})
	if w.container, err = w.cosmosContainer(); err != nil {
		return nil, err
	}

	// The Salesforce sink: web-app changes into the org, stamped with the
	// client id the source recognises.
	sinkCfg := sfsink.Config{
		Objects: []string{"customer=Account"},
		Fields: []string{"customer.name=Name", "customer.city=BillingCity", "customer.industry=Industry",
			"customer.employees=NumberOfEmployees"},
		ExternalIDs: []string{"Account=External_Id__c"}, ClientID: devSinkClientID, Mode: sfsink.ModeComposite, Pack: true,
		BulkThreshold: 2000, BulkPoll: 500 * time.Millisecond, ConflictPolicy: sfsink.PolicyLastWriterWins,
		ConflictWindow: 5 * time.Minute, APIReservePercent: 10, APIReserveInterval: 10 * time.Second,
		BreakerFailures: 3, BreakerCooldown: 30 * time.Second, ValueFormat: sfsink.ValueFormatJSON,
	}
	rest := salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: salesforce.DefaultAPIVersion, CallClientID: devSinkClientID})
	sfSink, err := sfsink.New(sinkCfg, sfsink.Deps{Connector: "dev-salesforce", REST: rest, Tokens: tokens,
		Decoder: sfsink.JSONDecoder{}, Conflicts: sfsink.KafkaConflicts{Client: w.producer, Topic: devConflictsTopic},
		Metrics: sfsink.NewMetrics(w.reg, "dev-salesforce")})
	if err != nil {
		return nil, err
	}
	sfRunner := connectorlib.NewSinkRunner(devSinkRunnerConfig("dev-salesforce", devWebAppTopic), sfSink,
		connectorlib.Deps{Kafka: kafka, Logger: w.log, Metrics: runtime})

	failed := make(chan error, 3)
	run := func(name string, fn func(context.Context) error) {
		w.running.Add(1)
		go func() {
			defer w.running.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	run("source", srcRunner.Run)
	run("cosmos sink", cosmosRunner.Run)
	run("salesforce sink", sfRunner.Run)
	return failed, nil
}

// devSinkRunnerConfig is a sink runner's configuration for the
// development stack: small batches, quick retries, the default dead-letter
// topic sfconnect.dlq.<name>.
func devSinkRunnerConfig(name, topic string) connectorlib.SinkConfig {
	return connectorlib.SinkConfig{
		Name: name, Topics: []string{topic}, DLQTopic: "sfconnect.dlq." + name, DLQPartitions: 1,
		BatchMaxRecords: 500, MaxPollRecords: 5000, Parallelism: 4,
		RetryInitial: 100 * time.Millisecond, RetryMax: 5 * time.Second, RetryMaxAttempts: 10, RetryMaxElapsed: time.Minute,
		OnRetryExhausted: connectorlib.ExhaustedDLQ, SessionTimeout: 10 * time.Second,
		ShutdownTimeout: 10 * time.Second, RestartBackoffMax: 5 * time.Second,
	}
}

// cosmosContainer is the page's client of the container the Cosmos sink
// writes, trusting the stand-in's CA.
func (w *devWiring) cosmosContainer() (*azcosmos.ContainerClient, error) {
	pem, err := os.ReadFile(w.cosmos.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("read the Cosmos DB stand-in's CA")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	w.closers = append(w.closers, tr.CloseIdleConnections)
	cred, err := azcosmos.NewKeyCredential(cosmosKey)
	if err != nil {
		return nil, err
	}
	cl, err := azcosmos.NewClientWithKey(w.cosmos.endpoint, cred, &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: tr}, Retry: policy.RetryOptions{MaxRetries: 1},
	}})
	if err != nil {
		return nil, err
	}
	return cl.NewContainer(devCosmosDatabase, devCosmosContainer)
}

// wait waits, bounded, for the connectors to stop after their context
// ended.
func (w *devWiring) wait(d time.Duration) {
	done := make(chan struct{})
	go func() { w.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		w.log.Warn("connectors did not stop in time", "within", d)
	}
}

// close releases what start created, last first.
func (w *devWiring) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
}
