package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

// Grant types accepted at the token endpoint.
const (
	grantPassword          = "password"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// scope is the scope reported for every grant: the connected app's "api"
// scope, the one the REST, Pub/Sub and Streaming APIs need.
const scope = "api"

// maxFormBytes bounds token, revoke and SOAP request bodies. Real requests are
// well under 8 KiB; a JWT assertion is about 1 KiB.
const maxFormBytes = 64 << 10

// tokenResponse is the token endpoint's success body, in Salesforce's field
// order.
type tokenResponse struct {
	AccessToken    string `json:"access_token"`
	RefreshToken   string `json:"refresh_token,omitempty"`
	Signature      string `json:"signature,omitempty"`
	Scope          string `json:"scope"`
	InstanceURL    string `json:"instance_url"`
	ID             string `json:"id"`
	TokenType      string `json:"token_type"`
	IssuedAt       string `json:"issued_at"`
	APIInstanceURL string `json:"api_instance_url,omitempty"`
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, errInvalidRequest)
		return
	}
	var (
		resp *tokenResponse
		oerr *oauthError
	)
	switch r.Form.Get("grant_type") {
	case grantPassword:
		resp, oerr = p.grantPassword(r)
	case grantRefreshToken:
		resp, oerr = p.grantRefresh(r)
	case grantClientCredentials:
		resp, oerr = p.grantClientCredentials(r)
	case grantJWTBearer:
		resp, oerr = p.grantJWT(r)
	default: // authorization_code included: the simulator runs no browser flow
		oerr = errUnsupported
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientCredentials returns the client id and secret from the form, or from
// HTTP Basic credentials when the form has no client_id.
func clientCredentials(r *http.Request) (id, secret string) {
	if id := r.Form.Get("client_id"); id != "" {
		return id, r.Form.Get("client_secret")
	}
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return "", ""
}

// checkClient verifies the client id, and the secret when requireSecret is set
// or a secret was sent.
func (p *Provider) checkClient(id, secret string, requireSecret bool) *oauthError {
	if id != p.cfg.ClientID {
		return errInvalidClientID
	}
	if (requireSecret || secret != "") && !p.checkSecret(secret) {
		return errInvalidClient
	}
	return nil
}

func (p *Provider) grantPassword(r *http.Request) (*tokenResponse, *oauthError) {
	id, secret := clientCredentials(r)
	if err := p.checkClient(id, secret, true); err != nil {
		return nil, err
	}
	if !p.checkUser(r.Form.Get("username"), r.Form.Get("password")) {
		return nil, errAuthFailure
	}
	token, s := p.issue("")
	resp := p.tokenResponse(token, s.IssuedAt)
	resp.Signature = p.signature(resp.ID, resp.IssuedAt)
	return resp, nil
}

func (p *Provider) grantRefresh(r *http.Request) (*tokenResponse, *oauthError) {
	id, secret := clientCredentials(r)
	if err := p.checkClient(id, secret, false); err != nil {
		return nil, err
	}
	refresh := r.Form.Get("refresh_token")
	if !p.refreshLive(refresh) {
		return nil, errExpiredRefresh
	}
	token, s := p.issue(refresh)
	resp := p.tokenResponse(token, s.IssuedAt)
	resp.RefreshToken = refresh
	resp.Signature = p.signature(resp.ID, resp.IssuedAt)
	return resp, nil
}

func (p *Provider) grantClientCredentials(r *http.Request) (*tokenResponse, *oauthError) {
	id, secret := clientCredentials(r)
	if err := p.checkClient(id, secret, true); err != nil {
		return nil, err
	}
	token, s := p.issue("")
	resp := p.tokenResponse(token, s.IssuedAt)
	resp.Signature = p.signature(resp.ID, resp.IssuedAt)
	resp.APIInstanceURL = resp.InstanceURL
	return resp, nil
}

func (p *Provider) grantJWT(r *http.Request) (*tokenResponse, *oauthError) {
	if err := p.verifyAssertion(r.Form.Get("assertion"), requestBaseURL(r), p.cfg.Clock()); err != nil {
		return nil, err
	}
	token, s := p.issue("")
	return p.tokenResponse(token, s.IssuedAt), nil
}

func (p *Provider) tokenResponse(token string, issuedAt time.Time) *tokenResponse {
	return &tokenResponse{
		AccessToken: token,
		Scope:       scope,
		InstanceURL: p.instanceURL(),
		ID:          p.idURL(),
		TokenType:   "Bearer",
		IssuedAt:    strconv.FormatInt(issuedAt.UnixMilli(), 10),
	}
}

// signature is Salesforce's token response signature: base64 of
// HMAC-SHA256(key = client secret, message = id + issued_at).
func (p *Provider) signature(id, issuedAt string) string {
	mac := hmac.New(sha256.New, []byte(p.cfg.ClientSecret))
	mac.Write([]byte(id + issuedAt))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (p *Provider) serveRevoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, errInvalidRequest)
		return
	}
	if !p.revoke(r.Form.Get("token")) {
		writeOAuthError(w, errInvalidToken)
		return
	}
	w.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	w.WriteHeader(http.StatusOK)
}

// requestBaseURL returns scheme://host of the URL the request was sent to.
func requestBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
