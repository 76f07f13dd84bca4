package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// runSinkSalesforce runs the Salesforce write-back sink.
func runSinkSalesforce(_ []string, _, stderr io.Writer) int {
	var (
		runner connectorlib.SinkConfig
		auth   salesforce.AuthConfig
		cfg    sfsink.Config
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
		// Every request carries Sforce-Call-Options: client=<id>, the id the
		// source's SOURCE_LOOP_CLIENT_IDS must list.
		rest := salesforce.NewClient(tokens, hc, salesforce.ClientConfig{APIVersion: auth.APIVersion, CallClientID: cfg.ClientID})
		var decoder sfsink.Decoder = sfsink.JSONDecoder{}
		if cfg.ValueFormat == sfsink.ValueFormatAvro {
			reg, err := sfsink.NewSchemaRegistryClient(cfg)
			if err != nil {
				return err
			}
			decoder = sfsink.NewAvroDecoder(reg)
		}
		// The conflicts producer: acks=all (kgo's default) and idempotent,
		// so a conflict the sink reports stored is durable.
		producer, err := kgo.NewClient(kafka...)
		if err != nil {
			return fmt.Errorf("create the conflicts producer: %w", err)
		}
		defer producer.Close()
		topic := cfg.ConflictsTopicOf(runner.Name)
		if err := kafkaio.EnsureTopics(ctx, kadm.NewClient(producer), kafkaio.DLQTopic(topic, -1)); err != nil {
			return fmt.Errorf("create the conflicts topic %s: %w", topic, err)
		}
		deps := sfsink.Deps{
			Connector: runner.Name, REST: rest, Tokens: tokens, Decoder: decoder,
			Conflicts: sfsink.KafkaConflicts{Client: producer, Topic: topic},
			Metrics:   sfsink.NewMetrics(p.reg, runner.Name),
		}
		if cfg.Mode == sfsink.ModePlatformEvent {
			var tlsCfg *tls.Config
			if !cfg.PubSubPlaintext {
				tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
				if tr, ok := hc.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
					tlsCfg = tr.TLSClientConfig.Clone()
				}
			}
			ps, err := pubsub.Dial(ctx, pubsub.DialConfig{Endpoint: cfg.PubSubEndpoint, TLS: tlsCfg, Tokens: tokens})
			if err != nil {
				return err
			}
			defer ps.Close()
			deps.Publisher = ps
		}
		sink, err := sfsink.New(cfg, deps)
		if err != nil {
			return err
		}
		return connectorlib.NewSinkRunner(runner, sink, connectorlib.Deps{Kafka: kafka, Logger: p.log, Metrics: p.metrics, Health: p.health}).Run(ctx)
	})
}
