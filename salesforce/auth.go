package salesforce

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Authenticator is the TokenProvider of an AuthConfig: it logs in with the
// configured flow, caches the session and logs in again after Invalidate.
// Salesforce tokens carry no expiry, so the session is kept until a call
// fails with 401 INVALID_SESSION_ID and its holder invalidates it. It is
// safe for concurrent use.
type Authenticator struct {
	cfg AuthConfig // defaults applied, login URL without a trailing slash
	hc  *http.Client
	key *rsa.PrivateKey // jwt_bearer only
	now func() time.Time

	mu       sync.Mutex
	cur      *Session   // the cached session; nil when none
	inflight *loginCall // the login in progress; nil when none
}

// loginCall is one login shared by every caller that found no session.
// s and err are written before done is closed.
type loginCall struct {
	done chan struct{}
	s    Session
	err  error
}

// AuthOpt configures an Authenticator beyond its AuthConfig, for
// programmers (tests, embedding applications).
type AuthOpt interface{ applyAuth(*Authenticator) }

type authOptFunc func(*Authenticator)

func (f authOptFunc) applyAuth(a *Authenticator) { f(a) }

// AuthHTTPClient makes the Authenticator send its login requests with hc
// instead of the client AuthConfig.HTTPClient builds; tests use it to
// observe or intercept token requests.
func AuthHTTPClient(hc *http.Client) AuthOpt {
	return authOptFunc(func(a *Authenticator) { a.hc = hc })
}

// NewAuthenticator validates cfg, loads its private key (jwt_bearer) and
// builds its HTTP client. It does not log in: the first Session call does.
func NewAuthenticator(cfg AuthConfig, opts ...AuthOpt) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, connectorlib.Permanent(fmt.Errorf("configure salesforce authentication: %w", err))
	}
	a := &Authenticator{cfg: cfg.withDefaults(), now: time.Now}
	for _, o := range opts {
		o.applyAuth(a)
	}
	if a.hc == nil {
		hc, err := a.cfg.HTTPClient()
		if err != nil {
			return nil, connectorlib.Permanent(fmt.Errorf("configure salesforce authentication: %w", err))
		}
		a.hc = hc
	}
	if a.cfg.Flow == FlowJWTBearer {
		key, err := loadRSAKey(a.cfg.PrivateKeyFile)
		if err != nil {
			return nil, connectorlib.Permanent(fmt.Errorf("configure salesforce authentication: %s: %w", envPrivateKeyFile, err))
		}
		a.key = key
	}
	return a, nil
}

// Session implements TokenProvider: the cached session, or a new one from
// a login shared with every concurrent caller.
func (a *Authenticator) Session(ctx context.Context) (Session, error) {
	for {
		a.mu.Lock()
		if a.cur != nil {
			s := *a.cur
			a.mu.Unlock()
			return s, nil
		}
		if call := a.inflight; call != nil {
			a.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return Session{}, fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, ctx.Err())
			}
			if call.err == nil {
				return call.s, nil
			}
			if isContextErr(call.err) && ctx.Err() == nil {
				// The caller that ran the login gave up; that says nothing
				// about the credentials. Try again, leading this time.
				continue
			}
			return Session{}, call.err
		}
		call := &loginCall{done: make(chan struct{})}
		a.inflight = call
		a.mu.Unlock()

		s, err := a.login(ctx)

		a.mu.Lock()
		a.inflight = nil
		if err == nil {
			a.cur = &s
		}
		a.mu.Unlock()
		call.s, call.err = s, err
		close(call.done)
		return s, err
	}
}

// Invalidate implements TokenProvider: it drops the cached session if it
// still holds accessToken.
func (a *Authenticator) Invalidate(accessToken string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil && a.cur.AccessToken == accessToken {
		a.cur = nil
	}
}

// String implements fmt.Stringer without the secrets the Authenticator
// holds.
func (a *Authenticator) String() string {
	return fmt.Sprintf("salesforce.Authenticator{Flow:%s LoginURL:%s}", a.cfg.Flow, a.cfg.LoginURL)
}

// GoString implements fmt.GoStringer like String.
func (a *Authenticator) GoString() string { return a.String() }

// login runs the configured flow once.
func (a *Authenticator) login(ctx context.Context) (Session, error) {
	switch a.cfg.Flow {
	case FlowClientCredentials:
		return a.grant(ctx, grantForm(grantClientCredentials,
			"client_id", a.cfg.ClientID, "client_secret", a.cfg.ClientSecret))
	case FlowJWTBearer:
		assertion, err := a.assertion()
		if err != nil {
			return Session{}, connectorlib.Permanent(fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, err))
		}
		return a.grant(ctx, grantForm(grantJWTBearer, "assertion", assertion))
	case FlowRefreshToken:
		return a.grant(ctx, grantForm(grantRefreshToken, "refresh_token", a.cfg.RefreshToken,
			"client_id", a.cfg.ClientID, "client_secret", a.cfg.ClientSecret))
	case FlowPassword:
		if a.cfg.ClientID == "" {
			return a.soapLogin(ctx)
		}
		return a.grant(ctx, grantForm(grantPassword, "client_id", a.cfg.ClientID,
			"client_secret", a.cfg.ClientSecret, "username", a.cfg.Username, "password", a.cfg.Password))
	}
	// Unreachable: NewAuthenticator validated the flow.
	return Session{}, connectorlib.Permanent(fmt.Errorf("authenticate: unknown flow %q", a.cfg.Flow))
}

// secrets lists what must never appear in an error.
func (a *Authenticator) secrets() []string {
	return []string{a.cfg.ClientSecret, a.cfg.Password, a.cfg.RefreshToken}
}

// transportError wraps a failure to reach the login endpoint: retryable.
func (a *Authenticator) transportError(err error) error {
	return connectorlib.Retryable(fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, err))
}

// classifyAuthError marks e: refused credentials are permanent, throttling
// and server trouble retryable.
func classifyAuthError(e *AuthError, permanent bool, h http.Header, now time.Time) error {
	if permanent {
		return connectorlib.PermanentCode(e.Code, e)
	}
	if d, ok := retryAfter(h, now); ok {
		return connectorlib.Throttled(e, d)
	}
	return connectorlib.Retryable(e)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
