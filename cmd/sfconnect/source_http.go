package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/source/ingest"
)

// runSourceHTTP runs the HTTP ingest source: the endpoint for Apex
// callouts and Outbound Messages, answered only once the records are in
// Kafka.
func runSourceHTTP(_ []string, _, stderr io.Writer) int {
	var (
		runner connectorlib.SourceConfig
		cfg    ingest.Config
	)
	p, code := loadProcess(stderr, &runner, &cfg)
	if code != exitOK {
		return code
	}
	return p.serve(func(ctx context.Context) error {
		kafka, err := p.kafka.Opts()
		if err != nil {
			return err
		}
		// The receiver's duplicate handling depends on the mode (exactly_once
		// drops a retry, at_least_once writes it flagged), so auto is resolved
		// here and the runner is given the result.
		mode, err := resolveDeliveryMode(ctx, runner.DeliveryMode, kafka)
		if err != nil {
			return err
		}
		runner.DeliveryMode = mode
		rc := ingest.New(cfg, ingest.Deps{Connector: runner.Name, Mode: mode, Kafka: kafka,
			Metrics: ingest.NewMetrics(p.reg), Logger: p.log})
		srv, err := ingest.NewServer(cfg, rc.Handler())
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := srv.Serve(); err != nil {
				cancel(err) // the endpoint is gone: stop the connector too
			}
		}()
		p.health.SetReady("ingest:http", true)
		p.log.Info("ingest endpoint listening", "url", srv.URL(), "mode", string(mode))
		deps := connectorlib.Deps{Kafka: kafka, Logger: p.log, Metrics: p.metrics, Health: p.health}
		runErr := connectorlib.NewSourceRunner(runner, rc.Factory(), deps).Run(ctx)
		p.health.SetReady("ingest:http", false)
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		<-served
		if cause := context.Cause(ctx); runErr == nil && cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return runErr
	})
}

// resolveDeliveryMode turns auto into exactly_once where the brokers
// support transactions, else at_least_once.
func resolveDeliveryMode(ctx context.Context, mode connectorlib.DeliveryMode, kafka []kgo.Opt) (connectorlib.DeliveryMode, error) {
	if mode != connectorlib.DeliveryAuto {
		return mode, nil
	}
	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		return "", fmt.Errorf("create kafka client: %w", err)
	}
	defer cl.Close()
	ok, err := kafkaio.SupportsTransactions(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("probe transaction support: %w", err)
	}
	if ok {
		return connectorlib.DeliveryExactlyOnce, nil
	}
	return connectorlib.DeliveryAtLeastOnce, nil
}
