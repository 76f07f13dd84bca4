package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is the ingest endpoint's HTTP server: TLS 1.2+ when a certificate
// is configured, bounded header, body and idle times.
type Server struct {
	srv *http.Server
	ln  net.Listener
	tls bool
}

// NewServer listens on cfg.Addr and returns the server of h; Serve serves.
func NewServer(cfg Config, h http.Handler) (*Server, error) {
	tlsCfg, err := cfg.ServerTLS()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return &Server{ln: ln, tls: tlsCfg != nil, srv: &http.Server{
		Handler: h,
		// A slow client cannot hold a connection open for ever; the write
		// deadline leaves room for the wait for the Kafka commit.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.AckTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}}, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the server's base URL.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Serve serves until Shutdown; it returns nil after Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve ingest endpoint: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in progress, up to
// ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		return err
	}
	return nil
}
