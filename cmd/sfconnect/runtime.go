package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/sink/cosmos"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
	sfsource "github.com/sfconnect/sfconnect/source"
	"github.com/sfconnect/sfconnect/source/ingest"
)

// knownSpecs lists the configuration of every command of the binary, so a
// variable meant for another command is not mistaken for a typo.
func knownSpecs() []any {
	return []any{
		&connectorlib.OpsConfig{}, &kafkaio.Config{},
		&connectorlib.SourceConfig{}, &connectorlib.SinkConfig{},
		&salesforce.AuthConfig{}, &sfsource.Config{}, &ingest.Config{}, &cosmos.Config{}, &sfsink.Config{},
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
	p.ops.ApplyMemoryLimit()
	p.reg = prometheus.NewRegistry()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.health = connectorlib.NewHealth()
	p.metrics = connectorlib.NewMetrics(p.reg)
	return p, exitOK
}

// serve runs fn until SIGTERM or SIGINT, with the operations server up, and
// maps its outcome to an exit code.
func (p *process) serve(fn func(ctx context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if p.ops.HTTPAddr != "" {
		srv, err := connectorlib.NewOpsServer(p.ops.HTTPAddr, p.reg, p.health)
		if err != nil {
			p.log.Error("start operations server", "err", err)
			return exitError
		}
		go func() {
			if err := srv.Serve(); err != nil {
				p.log.Error("operations server stopped", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	err := fn(ctx)
	switch {
	case err == nil:
		p.log.Info("stopped")
		return exitOK
	case errors.Is(err, connectorlib.ErrFenced):
		p.log.Error("fenced: another copy of this connector took over", "err", err)
		return exitFenced
	default:
		p.log.Error("stopped on error", "err", err)
		return exitError
	}
}
