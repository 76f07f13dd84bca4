package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
)

// Authentication failures; the messages are what the caller is told and
// never contain the secret or what was sent.
var (
	errNoCredentials = errors.New("authentication required")
	errBadSecret     = errors.New("wrong shared secret")
	errBadSignature  = errors.New("body signature does not match")
	errNoClientCert  = errors.New("a verified client certificate is required")
)

// authenticate checks a request by method. body is the whole request body
// (for hmac). It compares in constant time.
func authenticate(method string, r *http.Request, body []byte, cfg *Config) error {
	switch method {
	case AuthMTLS:
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			return errNoClientCert
		}
		return nil
	case AuthHMAC:
		sig := strings.TrimSpace(r.Header.Get(cfg.SignatureHeader))
		if sig == "" {
			return errNoCredentials
		}
		sig = strings.TrimPrefix(sig, "sha256=")
		got, err := hex.DecodeString(sig)
		if err != nil {
			return errBadSignature
		}
		mac := hmac.New(sha256.New, []byte(cfg.Secret))
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return errBadSignature
		}
		return nil
	default: // AuthSecret
		got := r.Header.Get(cfg.SecretHeader)
		if got == "" {
			// Outbound Messages cannot set headers: the secret is part of
			// the endpoint URL configured in Salesforce.
			got = r.URL.Query().Get("token")
		}
		if got == "" {
			return errNoCredentials
		}
		// Hash both sides so the comparison time does not depend on
		// the secret's length either.
		a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(cfg.Secret))
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			return errBadSecret
		}
		return nil
	}
}

// Sign returns the signature header value for body under secret, as a
// webhook sender computes it (hex HMAC-SHA256).
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
