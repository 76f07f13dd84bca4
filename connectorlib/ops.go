package connectorlib

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsConfig configures the operations surface every command shares: the
// HTTP port with /metrics, /healthz and /readyz, logging, and the
// process's memory limit.
type OpsConfig struct {
	HTTPAddr  string `envconfig:"OPS_ADDR" default:":9090" desc:"Listen address of the operations HTTP server (/metrics, /healthz, /readyz); empty disables it."`
	LogLevel  string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error."`
	LogFormat string `envconfig:"LOG_FORMAT" default:"json" desc:"json or text."`
	// MemoryLimit is applied by ApplyMemoryLimit (memory.go).
	MemoryLimit string `envconfig:"MEMORY_LIMIT" default:"100MiB" desc:"Soft memory limit of the Go runtime (100MiB, 1GiB, or off); with a limit the garbage collector runs less often (GOGC 400), trading memory under the limit for CPU. GOMEMLIMIT or GOGC in the environment take precedence."`
}

// Validate implements Validator.
func (c OpsConfig) Validate() error {
	var errs []error
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("%s_LOG_LEVEL: %w", EnvPrefix, err))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("%s_LOG_FORMAT: must be json or text, got %q", EnvPrefix, c.LogFormat))
	}
	if err := c.validateMemoryLimit(); err != nil {
		errs = append(errs, err)
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s_OPS_ADDR: must be host:port, got %q", EnvPrefix, c.HTTPAddr))
		}
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// NewLogger returns the structured logger described by c, writing to w.
func (c OpsConfig) NewLogger(w io.Writer) *slog.Logger {
	level, err := parseLevel(c.LogLevel)
	if err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpsServer serves /metrics, /healthz and /readyz.
type OpsServer struct {
	srv *http.Server
	ln  net.Listener
}

// NewOpsServer listens on addr and serves gatherer's metrics and health.
func NewOpsServer(addr string, gatherer prometheus.Gatherer, health *Health) (*OpsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := health.Live()
		writeHealth(w, ok, map[string]any{"status": status(ok), "reason": reason})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, notReady := health.Ready()
		writeHealth(w, ok, map[string]any{"status": status(ok), "not_ready": notReady})
	})
	return &OpsServer{
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		ln:  ln,
	}, nil
}

func status(ok bool) string {
	if ok {
		return "ok"
	}
	return "unavailable"
}

func writeHealth(w http.ResponseWriter, ok bool, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Addr returns the address the server listens on.
func (s *OpsServer) Addr() string { return s.ln.Addr().String() }

// URL returns the server's base URL.
func (s *OpsServer) URL() string {
	return "http://" + strings.Replace(s.Addr(), "[::]", "127.0.0.1", 1)
}

// Serve serves until Shutdown; it returns nil after a Shutdown.
func (s *OpsServer) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server gracefully within ctx.
func (s *OpsServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
