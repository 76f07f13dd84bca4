package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// runDev runs the local development stack in one process. Today that is an
// embedded Kafka broker (kfake) with transactions and consumer groups; the
// simulator and the connectors join it as they become part of the build.
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sfconnect dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kafkaAddr := fs.String("kafka", "127.0.0.1:9092", "listen address of the embedded Kafka broker (loopback only)")
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		fmt.Fprintf(stderr, "sfconnect dev: start kafka: %v\n", err)
		return exitError
	}
	defer cluster.Close()
	fmt.Fprintf(stdout, "sfconnect dev ready kafka=%s\n", cluster.ListenAddrs()[0])
	fmt.Fprintln(stdout, "press Ctrl-C to stop")
	<-ctx.Done()
	return exitOK
}
