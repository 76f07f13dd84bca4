package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// runSim runs the Salesforce simulator until SIGTERM or SIGINT.
func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sfconnect sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", "127.0.0.1:8443", "listen address of REST, OAuth, SOAP login and CometD")
	grpcAddr := fs.String("grpc", "127.0.0.1:7443", "listen address of the Pub/Sub API (gRPC)")
	plaintext := fs.Bool("plaintext", false, "serve without TLS (real Pub/Sub clients require TLS)")
	certFile := fs.String("tls-cert", "", "PEM certificate to serve instead of a generated self-signed one")
	keyFile := fs.String("tls-key", "", "PEM key of -tls-cert")
	caOut := fs.String("ca-out", "", "write the served certificate (the CA clients must trust) to this file")
	configFile := fs.String("config", "", "JSON file with custom objects, platform events and custom channels")
	jwtCert := fs.String("jwt-cert", "", "PEM certificate that verifies JWT bearer assertions")
	generate := fs.String("generate", "", "traffic generator rate, e.g. 10/s: Account changes made as UI users")
	tokenTTL := fs.Duration("token-ttl", 0, "access token lifetime (default 2h)")
	retention := fs.Duration("retention", 0, "event retention window (default 72h)")
	apiLimit := fs.Int("api-limit", 0, "daily API request budget (default 100000)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	var problems []string
	opts := []sfsim.Opt{sfsim.HTTPAddr(*httpAddr), sfsim.GRPCAddr(*grpcAddr)}
	if *plaintext {
		opts = append(opts, sfsim.Plaintext())
	}
	if (*certFile == "") != (*keyFile == "") {
		problems = append(problems, "-tls-cert and -tls-key go together")
	} else if *certFile != "" {
		cert, err1 := os.ReadFile(*certFile)
		key, err2 := os.ReadFile(*keyFile)
		err := errors.Join(err1, err2)
		if err == nil {
			_, err = tls.X509KeyPair(cert, key)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("-tls-cert/-tls-key: %v", err))
		} else {
			opts = append(opts, sfsim.TLSKeyPair(cert, key))
		}
	}
	if *configFile != "" {
		more, err := sfsim.LoadFile(*configFile)
		if err != nil {
			problems = append(problems, fmt.Sprintf("-config: %v", err))
		}
		opts = append(opts, more...)
	}
	if *jwtCert != "" {
		pemBytes, err := os.ReadFile(*jwtCert)
		if err != nil {
			problems = append(problems, fmt.Sprintf("-jwt-cert: %v", err))
		}
		opts = append(opts, sfsim.JWTCertificate(pemBytes))
	}
	var rate float64
	if *generate != "" {
		n, err := strconv.ParseFloat(strings.TrimSuffix(*generate, "/s"), 64)
		if err != nil || n <= 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			problems = append(problems, fmt.Sprintf("-generate: want a positive rate like 10/s, got %q", *generate))
		}
		rate = n
	}
	switch {
	case *tokenTTL < 0:
		problems = append(problems, "-token-ttl: must be positive")
	case *tokenTTL > 0:
		opts = append(opts, sfsim.TokenTTL(*tokenTTL))
	}
	switch {
	case *retention < 0:
		problems = append(problems, "-retention: must be positive")
	case *retention > 0:
		opts = append(opts, sfsim.Retention(*retention))
	}
	switch {
	case *apiLimit < 0:
		problems = append(problems, "-api-limit: must be positive")
	case *apiLimit > 0:
		opts = append(opts, sfsim.APILimit(*apiLimit))
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "sfconnect sim: invalid flags:\n  "+strings.Join(problems, "\n  "))
		return exitConfig
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sim, err := sfsim.New(opts...)
	if err != nil {
		fmt.Fprintln(stderr, "sfconnect sim:", err)
		return exitError
	}
	defer sim.Close()
	if *caOut != "" && sim.CACertPEM() != nil {
		if err := os.WriteFile(*caOut, sim.CACertPEM(), 0o644); err != nil {
			fmt.Fprintln(stderr, "sfconnect sim: -ca-out:", err)
			return exitError
		}
	}
	if rate > 0 {
		go func() { _ = sim.Generate(ctx, rate) }()
	}
	fmt.Fprintf(stdout, "sfsim ready http=%s grpc=%s\n", sim.URL(), sim.GRPCAddr())
	<-ctx.Done()
	return exitOK
}
