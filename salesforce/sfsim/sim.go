package sfsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/cometd"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/pubsubserver"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/rest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/simclock"
)

// Sim is a running simulated org. Create it with New and stop it with
// Close. It is safe for concurrent use.
type Sim struct {
	cfg    *config
	clock  *simclock.Clock
	org    *org.Org
	bus    *bus.Bus
	auth   *auth.Provider
	faults faults
	topics *pushTopics
	// senders are the Outbound Message and webhook senders, stopped on Close.
	senders senders
	named   namedSenders

	restH   *rest.Handler
	cometdH *cometd.Handler
	pubsub  *pubsubserver.Server

	httpLn, grpcLn net.Listener
	httpSrv        *http.Server
	grpcSrv        *grpc.Server
	url            string
	certPEM        []byte
	tlsConfig      *tls.Config
	wg             sync.WaitGroup
	closeOnce      sync.Once
}

// New starts a simulated org with the standard objects (Account, Contact,
// Opportunity, Case, Lead) and what opts add, listening on the configured
// addresses (free loopback ports by default).
func New(opts ...Opt) (*Sim, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(cfg)
	}
	s := &Sim{cfg: cfg, clock: &simclock.Clock{}}
	var err error
	s.org, err = org.New(org.Config{
		OrgID: DefaultOrgID, UserID: DefaultUserID, Now: s.clock.Now,
		Objects: append(org.StandardObjects(), cfg.objects...), DailyAPILimit: cfg.apiLimit,
	})
	if err != nil {
		return nil, fmt.Errorf("sfsim: %w", err)
	}
	s.bus = bus.New(bus.Config{Now: s.clock.Now, Retention: cfg.retention}, s.org.Objects)
	s.org.OnCommit(s.bus.OnCommit)
	for ch, objects := range cfg.customChannels {
		if err := s.bus.AddCustomChannel(ch, objects...); err != nil {
			return nil, fmt.Errorf("sfsim: %w", err)
		}
	}
	for name := range cfg.platformEvents {
		if !strings.HasSuffix(name, "__e") {
			return nil, fmt.Errorf("sfsim: platform event %q: name must end in __e", name)
		}
		s.bus.AddPlatformEvent(name)
	}
	s.topics = &pushTopics{org: s.org, bus: s.bus, now: s.clock.Now}
	s.org.OnCommit(s.topics.onCommit)

	if err := s.listen(); err != nil {
		return nil, err
	}
	if err := s.build(); err != nil {
		s.closeListeners()
		return nil, err
	}
	s.serve()
	return s, nil
}

// listen opens both listeners and sets up TLS.
func (s *Sim) listen() error {
	if !s.cfg.plaintext {
		var cert tls.Certificate
		var err error
		if s.cfg.certPEM != nil {
			cert, err = tls.X509KeyPair(s.cfg.certPEM, s.cfg.keyPEM)
			s.certPEM = s.cfg.certPEM
		} else {
			cert, s.certPEM, err = selfSignedCert()
		}
		if err != nil {
			return fmt.Errorf("sfsim: tls certificate: %w", err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var err error
	if s.httpLn, err = net.Listen("tcp", s.cfg.httpAddr); err != nil {
		return fmt.Errorf("sfsim: listen http on %s: %w", s.cfg.httpAddr, err)
	}
	if s.grpcLn, err = net.Listen("tcp", s.cfg.grpcAddr); err != nil {
		_ = s.httpLn.Close()
		return fmt.Errorf("sfsim: listen grpc on %s: %w", s.cfg.grpcAddr, err)
	}
	scheme := "https"
	if s.cfg.plaintext {
		scheme = "http"
	}
	s.url = scheme + "://" + s.httpLn.Addr().String()
	return nil
}

// build creates the surfaces.
func (s *Sim) build() error {
	var jwtCert *x509.Certificate
	if s.cfg.jwtCertPEM != nil {
		block, _ := pem.Decode(s.cfg.jwtCertPEM)
		if block == nil {
			return errors.New("sfsim: JWT certificate: no PEM block")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("sfsim: JWT certificate: %w", err)
		}
		jwtCert = c
	}
	var err error
	s.auth, err = auth.New(auth.Config{
		OrgID: DefaultOrgID, UserID: DefaultUserID, Username: s.cfg.username, Password: s.cfg.password,
		ClientID: s.cfg.clientID, ClientSecret: s.cfg.secret, JWTCert: jwtCert, TokenTTL: s.cfg.tokenTTL,
		InstanceURL: s.URL, Clock: s.clock.Now,
	})
	if err != nil {
		return fmt.Errorf("sfsim: %w", err)
	}
	s.restH = rest.New(rest.Config{
		Org: s.org, Auth: s.auth, Now: s.clock.Now,
		PublishPlatformEvent: func(name string, fields map[string]any, _ org.Origin) (string, *org.Error) {
			ev, err := s.platformEvent(name, fields)
			if err != nil {
				return "", err
			}
			s.bus.Publish(ev)
			return "e00" + strings.ReplaceAll(ev.EventUUID, "-", "")[:15], nil
		},
		CreatePushTopic: s.topics.create,
		Fault:           s.faults.httpFault(SurfaceREST),
	})
	s.cometdH, err = cometd.New(cometd.Config{
		Bus: s.bus, Auth: s.auth, Now: s.clock.Now, LongPollTimeout: s.cfg.longPoll,
		Fault: s.faults.httpFault(SurfaceCometD),
	})
	if err != nil {
		return fmt.Errorf("sfsim: %w", err)
	}
	s.pubsub, err = pubsubserver.New(pubsubserver.Config{
		Bus: s.bus, Org: s.org, Auth: s.auth, InstanceURL: s.URL, Now: s.clock.Now,
		IdleTimeout: s.cfg.idleTimeout, KeepAlive: s.cfg.keepAlive,
		PlatformEvents: func() map[string][]salesforce.Field { return s.cfg.platformEvents },
		Fault:          s.pubsubFault,
	})
	if err != nil {
		return fmt.Errorf("sfsim: %w", err)
	}
	return nil
}

// serve starts the HTTP and gRPC servers.
func (s *Sim) serve() {
	oauthFault := s.faults.httpFault(SurfaceOAuth)
	authH := s.auth.Handler()
	mux := http.NewServeMux()
	identity := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, body, ok := oauthFault(r); ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
		authH.ServeHTTP(w, r)
	})
	mux.Handle("/services/oauth2/", identity)
	mux.Handle("/services/Soap/", identity)
	mux.Handle("/id/", identity)
	mux.Handle("/services/data/", s.restH)
	mux.Handle("/cometd/", s.cometdH)
	mux.Handle("/sim/", s.adminHandler())
	s.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// Long polls are held up to the long-poll timeout (110 s by
		// default), so no write timeout shorter than that.
		IdleTimeout: 5 * time.Minute,
	}
	var gopts []grpc.ServerOption
	ln := s.httpLn
	if s.tlsConfig != nil {
		ln = tls.NewListener(s.httpLn, s.tlsConfig)
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(s.tlsConfig)))
	}
	s.grpcSrv = grpc.NewServer(gopts...)
	s.pubsub.Register(s.grpcSrv)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(ln)
	}()
	go func() {
		defer s.wg.Done()
		_ = s.grpcSrv.Serve(s.grpcLn)
	}()
}

// URL returns the base URL of the REST, OAuth and CometD surface (the
// login URL and the instance URL), e.g. https://127.0.0.1:8443.
func (s *Sim) URL() string { return s.url }

// GRPCAddr returns the host:port of the Pub/Sub API.
func (s *Sim) GRPCAddr() string { return s.grpcLn.Addr().String() }

// CACertPEM returns the PEM certificate clients must trust (nil with
// Plaintext).
func (s *Sim) CACertPEM() []byte { return s.certPEM }

// OrgID returns the org id.
func (s *Sim) OrgID() string { return s.org.OrgID() }

// UserID returns the integration user's id.
func (s *Sim) UserID() string { return s.org.UserID() }

// Token returns a fresh access token, as a client that logged in would
// hold, for tests that skip the OAuth flow.
func (s *Sim) Token() string {
	t, _ := s.auth.IssueToken()
	return t
}

// RefreshToken returns a refresh token, as the authorization code flow
// would have given a user, for clients configured with the refresh token
// flow.
func (s *Sim) RefreshToken() string { return s.auth.IssueRefreshToken() }

// DropStreams ends every live Pub/Sub subscription (UNAVAILABLE, as a
// server restart would) and every CometD session (clients get
// 403::Unknown client and must handshake again).
func (s *Sim) DropStreams() {
	s.cometdH.DropSessions()
	s.pubsub.DropStreams()
}

// Close stops the simulator and releases its ports.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.senders.close()
		s.cometdH.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			_ = s.httpSrv.Close() // connections still open after the grace period
		}
		stopped := make(chan struct{})
		go func() {
			s.grpcSrv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			s.grpcSrv.Stop()
		}
		s.restH.Close()
		s.wg.Wait()
	})
	return nil
}

func (s *Sim) closeListeners() {
	_ = s.httpLn.Close()
	_ = s.grpcLn.Close()
}
