package kafkaio

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfig builds the client TLS configuration, or returns nil when TLS is
// off. With TLS off, any TLS setting is an error: it would otherwise be
// silently ignored.
func (c Config) tlsConfig(enabled bool) (*tls.Config, []error) {
	if !enabled {
		var errs []error
		for _, s := range []struct {
			name string
			set  bool
		}{
			{envTLSCAFile, c.TLSCAFile != ""},
			{envTLSCertFile, c.TLSCertFile != ""},
			{envTLSKeyFile, c.TLSKeyFile != ""},
			{envTLSServerName, c.TLSServerName != ""},
			{envTLSInsecureSkipVerify, c.TLSInsecureSkipVerify},
		} {
			if s.set {
				errs = append(errs, fmt.Errorf("%s: set but %s is false", s.name, envTLSEnabled))
			}
		}
		return nil, errs
	}

	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,         // empty: kgo uses the dialed host
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // opt-in, documented as development only
	}
	var errs []error

	if c.TLSCAFile != "" {
		pool, err := loadCAPool(c.TLSCAFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", envTLSCAFile, err))
		}
		cfg.RootCAs = pool // nil: system roots
	}

	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		errs = append(errs, fmt.Errorf("%s: required when %s is set", envTLSKeyFile, envTLSCertFile))
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		errs = append(errs, fmt.Errorf("%s: required when %s is set", envTLSCertFile, envTLSKeyFile))
	case c.TLSCertFile != "":
		if err := checkKeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
			errs = append(errs, err)
			break
		}
		certFile, keyFile := c.TLSCertFile, c.TLSKeyFile
		// Re-read on every handshake so that a certificate rotated on
		// disk (cert-manager, Vault agent) is used by new connections
		// without a restart.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("load client certificate: %w", err)
			}
			return &cert, nil
		}
	}
	return cfg, errs
}

func loadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("parse %s: no PEM certificate found", path)
	}
	return pool, nil
}

// checkKeyPair reads and parses the client certificate and key, attributing
// each failure to its variable. Parse errors from crypto/tls describe PEM
// block types, never key material.
func checkKeyPair(certFile, keyFile string) error {
	certPEM, certErr := os.ReadFile(certFile)
	if certErr != nil {
		certErr = fmt.Errorf("%s: read file: %w", envTLSCertFile, certErr)
	}
	keyPEM, keyErr := os.ReadFile(keyFile)
	if keyErr != nil {
		keyErr = fmt.Errorf("%s: read file: %w", envTLSKeyFile, keyErr)
	}
	if certErr != nil || keyErr != nil {
		return errors.Join(certErr, keyErr)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("%s, %s: parse key pair: %w", envTLSCertFile, envTLSKeyFile, err)
	}
	return nil
}
