package auth

import (
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Session is what an access token stands for.
type Session struct {
	OrgID    string // 18-character org id
	UserID   string // 18-character user id
	Username string
	IssuedAt time.Time
	Expires  time.Time
}

// session is a stored access token.
type session struct {
	Session
	refresh string // refresh token it was issued from, or ""
}

// Provider is the simulated org's identity provider. It is safe for
// concurrent use.
type Provider struct {
	cfg     Config // immutable after New
	orgID15 string
	pub     *rsa.PublicKey
	created time.Time
	handler http.Handler

	mu       sync.Mutex
	ttl      time.Duration
	sessions map[string]*session // access token -> session
	refresh  map[string]struct{} // live refresh tokens
	issued   uint64              // access tokens issued, to pace sweeps
}

// sweepEvery is how many issued tokens pass between sweeps of expired
// sessions, which bounds memory without a background goroutine.
const sweepEvery = 256

// New validates cfg and returns a Provider. Errors wrap ErrInvalidConfig and
// name every missing or malformed field; they never contain secret values.
func New(cfg Config) (*Provider, error) {
	pub, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	p := &Provider{
		cfg:      cfg,
		orgID15:  cfg.OrgID[:15],
		pub:      pub,
		created:  cfg.Clock(),
		ttl:      cfg.TokenTTL,
		sessions: make(map[string]*session),
		refresh:  make(map[string]struct{}),
	}
	p.handler = p.routes()
	return p, nil
}

// Handler returns the HTTP handler serving the OAuth, identity and SOAP login
// endpoints listed in the package documentation. It returns the same handler
// on every call.
func (p *Provider) Handler() http.Handler { return p.handler }

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", p.serveToken)
	mux.HandleFunc("GET /services/oauth2/userinfo", p.serveUserinfo)
	mux.HandleFunc("POST /services/oauth2/userinfo", p.serveUserinfo)
	mux.HandleFunc("GET /services/oauth2/revoke", p.serveRevoke)
	mux.HandleFunc("POST /services/oauth2/revoke", p.serveRevoke)
	mux.HandleFunc("POST /services/Soap/u/{version}", p.serveSOAPLogin)
	mux.HandleFunc("GET /id/{org}/{user}", p.serveIdentity)
	mux.HandleFunc("POST /id/{org}/{user}", p.serveIdentity)
	return mux
}

// Validate returns the session for an access token, or ErrInvalidSession if
// the token is unknown, expired on the Clock, or revoked. The error never
// contains the token.
func (p *Provider) Validate(token string) (Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.lookupLocked(token, p.cfg.Clock())
	if !ok {
		return Session{}, ErrInvalidSession
	}
	return s.Session, nil
}

// IssueToken starts a session for the configured user without going through
// HTTP, as if the user had logged in, and returns its access token. Tests use
// it for clients configured with a ready access token (the Pub/Sub client's
// user-supplied mode).
func (p *Provider) IssueToken() (string, Session) {
	return p.issue("")
}

// IssueRefreshToken returns a new refresh token for the configured user and
// client, as if obtained through the authorization-code flow, which the
// simulator does not run. It stays valid until revoked.
func (p *Provider) IssueRefreshToken() string {
	t := newRefreshToken()
	p.mu.Lock()
	p.refresh[t] = struct{}{}
	p.mu.Unlock()
	return t
}

// ExpireAll ends every access token, as a session timeout would. Refresh
// tokens stay valid, so clients that can refresh recover.
func (p *Provider) ExpireAll() {
	p.mu.Lock()
	clear(p.sessions)
	p.mu.Unlock()
}

// Expire ends one access token and reports whether it was live.
func (p *Provider) Expire(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.lookupLocked(token, p.cfg.Clock())
	delete(p.sessions, token)
	return ok
}

// SetTokenTTL sets the lifetime of access tokens issued from now on; sessions
// already issued keep their expiry. A d of zero or less restores DefaultTokenTTL.
func (p *Provider) SetTokenTTL(d time.Duration) {
	if d <= 0 {
		d = DefaultTokenTTL
	}
	p.mu.Lock()
	p.ttl = d
	p.mu.Unlock()
}

// issue starts a session for the configured user, recording the refresh token
// it came from ("" for none).
func (p *Provider) issue(refresh string) (string, Session) {
	now := p.cfg.Clock()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &session{
		Session: Session{
			OrgID:    p.cfg.OrgID,
			UserID:   p.cfg.UserID,
			Username: p.cfg.Username,
			IssuedAt: now,
			Expires:  now.Add(p.ttl),
		},
		refresh: refresh,
	}
	token := newAccessToken(p.orgID15)
	for p.sessions[token] != nil { // a collision is practically impossible; stay correct anyway
		token = newAccessToken(p.orgID15)
	}
	p.sessions[token] = s
	p.issued++
	if p.issued%sweepEvery == 0 {
		for t, s := range p.sessions {
			if !now.Before(s.Expires) {
				delete(p.sessions, t)
			}
		}
	}
	return token, s.Session
}

// lookupLocked returns the live session for token, dropping it if it has
// expired at now. p.mu must be held.
func (p *Provider) lookupLocked(token string, now time.Time) (*session, bool) {
	s, ok := p.sessions[token]
	if !ok {
		return nil, false
	}
	if !now.Before(s.Expires) {
		delete(p.sessions, token)
		return nil, false
	}
	return s, true
}

// revoke ends an access token, or a refresh token and every access token
// issued from it. It reports whether token was live.
func (p *Provider) revoke(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.refresh[token]; ok {
		delete(p.refresh, token)
		for t, s := range p.sessions {
			if s.refresh == token {
				delete(p.sessions, t)
			}
		}
		return true
	}
	_, ok := p.lookupLocked(token, p.cfg.Clock())
	delete(p.sessions, token)
	return ok
}

// refreshLive reports whether token is a live refresh token.
func (p *Provider) refreshLive(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.refresh[token]
	return ok
}

// ttlSeconds returns the current session lifetime in seconds.
func (p *Provider) ttlSeconds() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.ttl / time.Second)
}

// instanceURL returns the simulator's base URL without a trailing slash.
func (p *Provider) instanceURL() string {
	return strings.TrimRight(p.cfg.InstanceURL(), "/")
}

// idURL returns the identity URL, <instance>/id/<orgId>/<userId>.
func (p *Provider) idURL() string {
	return fmt.Sprintf("%s/id/%s/%s", p.instanceURL(), p.cfg.OrgID, p.cfg.UserID)
}

// checkUser reports whether username and password (with the security token
// appended, when one is configured) match the configured user. The password
// comparison takes constant time.
func (p *Provider) checkUser(username, password string) bool {
	userOK := strings.EqualFold(username, p.cfg.Username)
	want := p.cfg.Password + p.cfg.SecurityToken
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
	return userOK && passOK
}

// checkSecret compares a client secret in constant time.
func (p *Provider) checkSecret(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(secret), []byte(p.cfg.ClientSecret)) == 1
}
