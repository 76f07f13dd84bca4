package main

import (
	"context"
	"io"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/sink/cosmos"
)

// runSinkCosmos runs the Cosmos DB sink: the source's change topics into a
// container, on the connectorlib sink runner.
func runSinkCosmos(_ []string, _, stderr io.Writer) int {
	var (
		runner connectorlib.SinkConfig
		cfg    cosmos.Config
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
		sink, err := cosmos.New(cfg, cosmos.Deps{Metrics: cosmos.NewMetrics(p.reg, runner.Name), Logger: p.log})
		if err != nil {
			return err
		}
		defer func() { _ = sink.Close(context.WithoutCancel(ctx)) }()
		deps := connectorlib.Deps{Kafka: kafka, Logger: p.log, Metrics: p.metrics, Health: p.health}
		return connectorlib.NewSinkRunner(runner, sink, deps).Run(ctx)
	})
}
