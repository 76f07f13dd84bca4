package main

import (
	"context"
	"io"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	sfsource "github.com/sfconnect/sfconnect/source"
)

// runSource runs the Salesforce streaming source.
func runSource(_ []string, _, stderr io.Writer) int {
	var (
		runner connectorlib.SourceConfig
		auth   salesforce.AuthConfig
		cfg    sfsource.Config
	)
	p, code := loadProcess(stderr, &runner, &auth, &cfg)
	if code != exitOK {
		return code
	}
	return p.serve(func(ctx context.Context) error {
		kafka, err := p.kafka.Opts()
		if err != nil {
			return err
		}
		tokens, err := salesforce.NewAuthenticator(auth)
		if err != nil {
			return err
		}
		hc, err := auth.HTTPClient()
		if err != nil {
			return err
		}
		rest := salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: auth.APIVersion})
		values, err := sfsource.NewValueEncoder(cfg) // JSON, or Avro with the Schema Registry
		if err != nil {
			return err
		}
		conn, err := sfsource.New(ctx, cfg, sfsource.Deps{
			Connector: runner.Name, Tokens: tokens, HTTPClient: hc, REST: rest, APIVersion: auth.APIVersion, Values: values,
			Metrics: sfsource.NewMetrics(p.reg, runner.Name), Logger: p.log,
		})
		if err != nil {
			return err
		}
		defer conn.Close()
		deps := connectorlib.Deps{Kafka: kafka, Logger: p.log, Metrics: p.metrics, Health: p.health}
		return connectorlib.NewSourceRunner(runner, conn.Factory(), deps).Run(ctx)
	})
}
