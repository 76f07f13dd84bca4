package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/cmd/sfconnect/demo"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// devFlags are `sfconnect dev`'s options.
type devFlags struct {
	kafka, simHTTP, simGRPC, page string
	cosmosDir                     string
	rate, webRate                 float64
	seed                          int
}

// runDev runs the whole bidirectional loop in one process: an embedded
// Kafka broker (kfake), the Salesforce simulator, the Cosmos DB stand-in (a
// Node child process), the source, the Cosmos sink and the Salesforce sink,
// traffic on both sides (simulated Salesforce users and a simulated web
// application), and the live page that shows both sides.
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sfconnect dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f devFlags
	fs.StringVar(&f.kafka, "kafka", "127.0.0.1:9092", "listen address of the embedded Kafka broker (loopback only; port 0: any)")
	fs.StringVar(&f.simHTTP, "sim-http", "127.0.0.1:8443", "listen address of the simulator's REST, OAuth and CometD surface")
	fs.StringVar(&f.simGRPC, "sim-grpc", "127.0.0.1:7443", "listen address of the simulator's Pub/Sub API")
	fs.StringVar(&f.page, "http", "127.0.0.1:8080", "listen address of the live page (loopback only; port 0: any)")
	fs.StringVar(&f.cosmosDir, "cosmos-dir", filepath.Join("test", "cosmos"), "directory of the Cosmos DB stand-in (installed by make node-install)")
	fs.Float64Var(&f.rate, "generate", 2, "Account changes per second made by simulated users (0: none)")
	fs.Float64Var(&f.webRate, "generate-webapp", 0.2, "Account changes per second made by the simulated web application (0: none)")
	fs.IntVar(&f.seed, "seed", 10, "Accounts created in the simulator at start")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	kafkaPort, err := loopbackPort("-kafka", f.kafka)
	if err == nil {
		_, err = loopbackPort("-http", f.page)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		return exitConfig
	}
	if f.rate < 0 || f.webRate < 0 || f.seed < 0 {
		fmt.Fprintln(stderr, "sfconnect dev: -generate, -generate-webapp and -seed must not be negative")
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := dev(ctx, f, kafkaPort, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: %v\n", err)
		if errors.Is(err, errCosmosNotInstalled) {
			return exitConfig
		}
		return exitError
	}
	fmt.Fprintln(stdout, "sfconnect dev stopped")
	return exitOK
}

// loopbackPort checks that addr is a loopback host:port and returns the
// port.
func loopbackPort(flagName, addr string) (int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("%s: must be host:port, got %q", flagName, addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0, fmt.Errorf("%s: the development stack listens on loopback only, got %q", flagName, host)
	}
	return port, nil
}

// dev starts everything, serves until ctx is done or a part fails, then
// stops everything it started.
func dev(ctx context.Context, f devFlags, kafkaPort int, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := os.MkdirTemp("", "sfconnect-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The Cosmos DB stand-in first: when it is not installed, nothing
	// else is worth starting.
	cosmosSrv, err := startCosmosStandIn(f.cosmosDir, dir, stderr)
	if err != nil {
		return err
	}
	defer cosmosSrv.stop()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(kafkaPort))
	if err != nil {
		return fmt.Errorf("start kafka: %w", err)
	}
	defer cluster.Close()
	str := func(name, typ string) salesforce.Field {
		return salesforce.Field{Name: name, Label: name, Type: typ, Nillable: true, Createable: true}
	}
	sim, err := sfsim.New(sfsim.HTTPAddr(f.simHTTP), sfsim.GRPCAddr(f.simGRPC),
		sfsim.PlatformEvent("Order__e", str("OrderNumber__c", "string"), str("Amount__c", "double")))
	if err != nil {
		return fmt.Errorf("start the simulator: %w", err)
	}
	defer sim.Close()
	if err := seedAccounts(sim, f.seed); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &devWiring{sim: sim, cosmos: cosmosSrv, brokers: cluster.ListenAddrs(), dir: dir, log: log}
	defer w.close()
	parts, err := w.start(ctx)
	if err != nil {
		return err
	}

	echoes := demo.NewEchoWatcher(devSinkClientID)
	echoClient, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(devSourceTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer echoClient.Close()
	page := demo.New(demo.Deps{Salesforce: devOrg{sim}, Container: w.container, Producer: w.producer, WebAppTopic: devWebAppTopic,
		Metrics: w.reg, Echoes: echoes, Logger: log})
	ln, err := net.Listen("tcp", f.page)
	if err != nil {
		return fmt.Errorf("listen for the page: %w", err)
	}
	// Requests live in ctx, so open event streams end at Ctrl-C instead of
	// holding up the shutdown.
	srv := &http.Server{Handler: page.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); echoes.Run(ctx, echoClient) }()
	go func() { defer bg.Done(); page.Run(ctx) }()
	go func() { defer bg.Done(); _ = srv.Serve(ln) }()
	if f.rate > 0 {
		bg.Add(1)
		go func() { defer bg.Done(); _ = sim.Generate(ctx, f.rate) }()
	}
	if f.webRate > 0 {
		bg.Add(1)
		go func() { defer bg.Done(); _ = page.GenerateWebApp(ctx, f.webRate) }()
	}

	fmt.Fprintf(stdout, "sfconnect dev ready kafka=%s salesforce=%s pubsub=%s cosmos=%s\n",
		w.brokers[0], sim.URL(), sim.GRPCAddr(), cosmosSrv.endpoint)
	fmt.Fprintf(stdout, "Salesforce changes stream into %s and the Cosmos container %s/%s; web-app changes on %s go back to Salesforce\n",
		devSourceTopic, devCosmosDatabase, devCosmosContainer, devWebAppTopic)
	fmt.Fprintf(stdout, "sfconnect dev page: http://%s/ (Ctrl-C stops everything)\n", ln.Addr())

	var failed error
	select {
	case <-ctx.Done():
	case failed = <-parts:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	w.wait(30 * time.Second)
	bg.Wait()
	return failed
}

// seedAccounts creates n Accounts, as people would in the Salesforce UI,
// so the page shows records before the generator made any.
func seedAccounts(sim *sfsim.Sim, n int) error {
	cities := []string{"Paris", "Lyon", "Berlin", "Madrid", "Oslo"}
	return sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range n {
			_, err := tx.Create("Account", map[string]any{
				"Name": fmt.Sprintf("Seeded Account %d", i+1), "External_Id__c": fmt.Sprintf("dev-%03d", i+1),
				"Industry": "Technology", "BillingCity": cities[i%len(cities)], "NumberOfEmployees": float64(10 * (i + 1)),
			})
			if err != nil {
				return fmt.Errorf("seed Accounts: %w", err)
			}
		}
		return nil
	})
}
