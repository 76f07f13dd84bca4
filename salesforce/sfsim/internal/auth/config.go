package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// DefaultTokenTTL is the session lifetime when Config.TokenTTL is zero:
// Salesforce's default session timeout of two hours.
const DefaultTokenTTL = 2 * time.Hour

// Config describes the simulated org's single user and connected app.
type Config struct {
	// OrgID is the 18-character org id, starting with "00D".
	OrgID string
	// UserID is the 18-character user id, starting with "005".
	UserID string
	// Username is the login name, compared case-insensitively as Salesforce does.
	// It also serves as the user's email address.
	Username string
	// Password is the user's password.
	Password string
	// SecurityToken, when set, must be appended to Password in password grants
	// and SOAP logins, as Salesforce requires from untrusted networks.
	SecurityToken string
	// ClientID is the connected app's consumer key.
	ClientID string
	// ClientSecret is the connected app's consumer secret. It also keys the
	// signature field of token responses.
	ClientSecret string
	// JWTCert is the certificate uploaded to the connected app; JWT bearer
	// assertions are verified against its RSA public key. Nil disables the JWT
	// bearer grant (every assertion is refused).
	JWTCert *x509.Certificate
	// TokenTTL is the lifetime of an access token. Zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// InstanceURL returns the simulator's base URL (scheme://host:port, no
	// trailing slash needed). It is called per request because the URL is known
	// only once the simulator listens.
	InstanceURL func() string
	// Clock returns the current time. Nil means time.Now. Tests advance it to
	// expire sessions.
	Clock func() time.Time
}

// validate checks cfg and returns every problem joined. Messages name fields,
// never their values, so secrets do not leak into logs.
func (cfg *Config) validate() (*rsa.PublicKey, error) {
	var errs []error
	if err := checkID(cfg.OrgID, "00D"); err != nil {
		errs = append(errs, fmt.Errorf("org_id: %w", err))
	}
	if err := checkID(cfg.UserID, "005"); err != nil {
		errs = append(errs, fmt.Errorf("user_id: %w", err))
	}
	if cfg.Username == "" {
		errs = append(errs, errors.New("username: required"))
	}
	if cfg.Password == "" {
		errs = append(errs, errors.New("password: required"))
	}
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("client_id: required"))
	}
	if cfg.ClientSecret == "" {
		errs = append(errs, errors.New("client_secret: required"))
	}
	if cfg.TokenTTL < 0 {
		errs = append(errs, errors.New("token_ttl: must not be negative"))
	}
	if cfg.InstanceURL == nil {
		errs = append(errs, errors.New("instance_url: required"))
	}
	var pub *rsa.PublicKey
	if cfg.JWTCert != nil {
		k, ok := cfg.JWTCert.PublicKey.(*rsa.PublicKey)
		if !ok {
			errs = append(errs, errors.New("jwt_cert: public key is not RSA"))
		}
		pub = k
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return pub, nil
}

// checkID reports whether id is an 18-character alphanumeric Salesforce id
// with the given key prefix. The case-safe checksum suffix is not verified.
func checkID(id, prefix string) error {
	if len(id) != 18 {
		return fmt.Errorf("must be 18 characters, got %d", len(id))
	}
	if id[:3] != prefix {
		return fmt.Errorf("must start with %q", prefix)
	}
	for i := 0; i < len(id); i++ {
		if !isBase62(id[i]) {
			return errors.New("must be alphanumeric")
		}
	}
	return nil
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
