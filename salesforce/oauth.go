package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// OAuth 2.0 grant types of the token endpoint.
const (
	grantClientCredentials = "client_credentials"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantRefreshToken      = "refresh_token"
	grantPassword          = "password"
)

// tokenPath is the OAuth token endpoint, relative to the login URL.
const tokenPath = "/services/oauth2/token"

// maxAuthBody bounds a login answer. Token responses are under 2 KiB and
// SOAP login responses under 8 KiB.
const maxAuthBody = 1 << 20

// grantForm builds a token request form from name/value pairs, leaving out
// empty values (an optional client secret).
func grantForm(grantType string, pairs ...string) url.Values {
	form := url.Values{"grant_type": {grantType}}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			form.Set(pairs[i], pairs[i+1])
		}
	}
	return form
}

// tokenResponse is the token endpoint's success body, reduced to what a
// Session needs.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	ID          string `json:"id"`
	IssuedAt    string `json:"issued_at"`
}

// oauthErrorBody is the token endpoint's error body.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// grant posts form to the token endpoint and turns the answer into a
// Session.
func (a *Authenticator) grant(ctx context.Context, form url.Values) (Session, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.LoginURL+tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return Session{}, connectorlib.Permanent(fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := a.hc.Do(req)
	if err != nil {
		return Session{}, a.transportError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthBody))
	if err != nil {
		return Session{}, a.transportError(fmt.Errorf("read token response: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return Session{}, a.oauthError(resp, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		// Never the body in the error: it holds the access token.
		return Session{}, connectorlib.Retryable(fmt.Errorf("authenticate with %s: decode token response: %w", a.cfg.Flow, err))
	}
	s, err := tr.session(a.now)
	if err != nil {
		return Session{}, connectorlib.Permanent(fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, err))
	}
	return s, nil
}

// oauthError builds the classified AuthError of a refused token request.
func (a *Authenticator) oauthError(resp *http.Response, body []byte) error {
	e := &AuthError{Flow: a.cfg.Flow, Status: resp.StatusCode}
	var ob oauthErrorBody
	if err := json.Unmarshal(body, &ob); err == nil && (ob.Error != "" || ob.Description != "") {
		e.Code, e.Message = ob.Error, ob.Description
	} else {
		e.Message = shorten(strings.TrimSpace(string(body)))
	}
	e.Code, e.Message = scrub(e.Code, a.secrets()...), scrub(e.Message, a.secrets()...)
	// 4xx other than 408 and 429 is a refusal of these credentials.
	permanent := resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout
	return classifyAuthError(e, permanent, resp.Header, a.now())
}

// session checks a token response and derives the org and user ids from
// its identity URL.
func (tr *tokenResponse) session(now func() time.Time) (Session, error) {
	if tr.AccessToken == "" {
		return Session{}, errors.New("token response has no access_token")
	}
	instance, err := baseURL(tr.InstanceURL)
	if err != nil {
		return Session{}, fmt.Errorf("token response instance_url: %w", err)
	}
	orgID, userID, err := parseIdentityURL(tr.ID)
	if err != nil {
		return Session{}, fmt.Errorf("token response id: %w", err)
	}
	issued := now()
	if ms, err := strconv.ParseInt(tr.IssuedAt, 10, 64); err == nil && ms > 0 {
		issued = time.UnixMilli(ms)
	}
	return Session{AccessToken: tr.AccessToken, InstanceURL: instance, OrgID: orgID, UserID: userID, IssuedAt: issued}, nil
}

// parseIdentityURL returns the org and user ids of an identity URL
// (https://login.salesforce.com/id/<orgId>/<userId>): its last two path
// segments, as jsforce reads them.
func parseIdentityURL(id string) (orgID, userID string, err error) {
	u, err := url.Parse(id)
	if err != nil || u.Path == "" {
		return "", "", fmt.Errorf("not an identity URL: %q", id)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 || segs[len(segs)-2] == "" || segs[len(segs)-1] == "" {
		return "", "", fmt.Errorf("identity URL %q does not end in /<orgId>/<userId>", id)
	}
	return segs[len(segs)-2], segs[len(segs)-1], nil
}

// baseURL returns scheme://host[:port] of an http or https URL.
func baseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("not an http or https URL: %q", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
