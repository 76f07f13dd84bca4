package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsource "github.com/sfconnect/sfconnect/source"
)

// runDev runs the local development stack in one process: an embedded
// Kafka broker (kfake, with transactions and consumer groups), the
// Salesforce simulator with a traffic generator, and the Salesforce source
// streaming Account changes and Order__e platform events into Kafka,
// exactly once.
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sfconnect dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kafkaAddr := fs.String("kafka", "127.0.0.1:9092", "listen address of the embedded Kafka broker (loopback only)")
	httpAddr := fs.String("sim-http", "127.0.0.1:8443", "listen address of the simulator's REST, OAuth and CometD surface")
	grpcAddr := fs.String("sim-grpc", "127.0.0.1:7443", "listen address of the simulator's Pub/Sub API")
	rate := fs.Float64("generate", 2, "Account changes per second made by simulated users (0: none)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	host, portStr, err := net.SplitHostPort(*kafkaAddr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < 0 || port > 65535 {
		fmt.Fprintf(stderr, "sfconnect dev: -kafka: must be host:port, got %q\n", *kafkaAddr)
		return exitConfig
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "sfconnect dev: -kafka: the development broker listens on loopback only, got %q\n", host)
		return exitConfig
	}
	if *rate < 0 {
		fmt.Fprintln(stderr, "sfconnect dev: -generate: must not be negative")
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: start kafka: %v\n", err)
		return exitError
	}
	defer cluster.Close()
	str := func(name, typ string) salesforce.Field {
		return salesforce.Field{Name: name, Label: name, Type: typ, Nillable: true, Createable: true}
	}
	sim, err := sfsim.New(sfsim.HTTPAddr(*httpAddr), sfsim.GRPCAddr(*grpcAddr),
		sfsim.PlatformEvent("Order__e", str("OrderNumber__c", "string"), str("Amount__c", "double")))
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: start the simulator: %v\n", err)
		return exitError
	}
	defer sim.Close()
	dir, err := os.MkdirTemp("", "sfconnect-dev-")
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		return exitError
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "sfsim-ca.pem")
	if err := os.WriteFile(caFile, sim.CACertPEM(), 0o600); err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		return exitError
	}
	auth := salesforce.AuthConfig{LoginURL: sim.URL(), Flow: salesforce.FlowClientCredentials,
		ClientID: sfsim.DefaultClientID, ClientSecret: sfsim.DefaultClientSecret, CAFile: caFile}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		return exitError
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		return exitError
	}
	cfg := sfsource.Config{
		Channels: []string{"/data/AccountChangeEvent", "/event/Order__e"}, Transport: sfsource.TransportPubSub,
		PubSubEndpoint: sim.GRPCAddr(), Appetite: 100, InitialReplay: sfsource.ReplayEarliest,
		OnInvalidReplay: sfsource.ReplayFail, ResyncBuffer: 5 * time.Minute, TopicTemplate: "salesforce.{entity}",
		LoopAction: sfsource.LoopDrop, GapRepair: true,
	}
	conn, err := sfsource.New(ctx, cfg, sfsource.Deps{
		Connector: "dev-source", Tokens: tokens, HTTPClient: hc, APIVersion: salesforce.DefaultAPIVersion,
		REST: salesforce.NewClient(tokens, hc, salesforce.ClientConfig{}), Logger: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		return exitError
	}
	defer conn.Close()
	runner := connectorlib.NewSourceRunner(connectorlib.SourceConfig{
		Name: "dev-source", StreamGroup: "0", DeliveryMode: connectorlib.DeliveryExactlyOnce, MaxInFlight: 10000,
		OffsetFlushInterval: time.Second, TransactionTimeout: time.Minute, TopicAutoCreate: true, TopicPartitions: 3,
		TopicReplication: -1, ShutdownTimeout: 10 * time.Second, RestartBackoffMax: 5 * time.Second,
	}, conn.Factory(), connectorlib.Deps{Kafka: []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, Logger: log})
	if *rate > 0 {
		go func() { _ = sim.Generate(ctx, *rate) }()
	}
	fmt.Fprintf(stdout, "sfconnect dev ready kafka=%s salesforce=%s pubsub=%s\n", cluster.ListenAddrs()[0], sim.URL(), sim.GRPCAddr())
	fmt.Fprintln(stdout, "Account changes and Order__e events stream into the topics salesforce.Account and salesforce.Order__e; press Ctrl-C to stop")
	if err := runner.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: source: %v\n", err)
		return exitError
	}
	return exitOK
}
