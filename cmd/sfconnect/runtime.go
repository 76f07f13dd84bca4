package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

// knownSpecs lists the configuration of every command of the binary, so a
// variable meant for another command is not mistaken for a typo.
func knownSpecs() []any {
	return []any{
		&connectorlib.OpsConfig{}, &kafkaio.Config{},
		&connectorlib.SourceConfig{}, &connectorlib.SinkConfig{},
	}
}

// process is what every connector command sets up around its runner.
type process struct {
	ops     connectorlib.OpsConfig
	kafka   kafkaio.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	health  *connectorlib.Health
	metrics *connectorlib.Metrics
}

// loadProcess loads the shared configuration plus the command's own specs.
// It prints every problem and returns exitConfig when the configuration is
// invalid.
func loadProcess(stderr io.Writer, specs ...any) (*process, int) {
	p := &process{}
	load := append([]any{&p.ops, &p.kafka}, specs...)
	if err := connectorlib.LoadEnv(load, knownSpecs()...); err != nil {
		fmt.Fprintln(stderr, "sfconnect:", err)
		return nil, exitConfig
	}
	p.log = p.ops.NewLogger(stderr)
	p.reg = prometheus.NewRegistry()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.health = connectorlib.NewHealth()
	p.metrics = connectorlib.NewMetrics(p.reg)
	return p, exitOK
}

// notAvailable reports a connector this build does not contain yet.
func notAvailable(stderr io.Writer, what string) int {
	fmt.Fprintf(stderr, "sfconnect: %s is not part of this build yet\n", what)
	return exitError
}
