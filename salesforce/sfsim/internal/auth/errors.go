package auth

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ErrInvalidSession is returned by Provider.Validate for a token that is
// unknown, expired or revoked. Surfaces answer it with WriteInvalidSession.
var ErrInvalidSession = errors.New("session expired or invalid")

// ErrInvalidConfig is wrapped by New when the Config is incomplete or invalid.
var ErrInvalidConfig = errors.New("invalid auth config")

// invalidSessionBody is the REST API's 401 body for an expired or invalid
// session, byte for byte.
const invalidSessionBody = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`

// WriteInvalidSession answers 401 with Salesforce's INVALID_SESSION_ID body:
// [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}].
// jsforce treats any 401 as an expired session and refreshes.
func WriteInvalidSession(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("WWW-Authenticate", "Token")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(invalidSessionBody))
}

// OAuth error codes and descriptions, as Salesforce spells them.
const (
	errCodeInvalidClientID  = "invalid_client_id"
	errCodeInvalidClient    = "invalid_client"
	errCodeInvalidGrant     = "invalid_grant"
	errCodeUnsupportedGrant = "unsupported_grant_type"
	errCodeInvalidRequest   = "invalid_request"
	errCodeInvalidToken     = "invalid_token"
	descInvalidClientID     = "client identifier invalid"
	descInvalidClient       = "invalid client credentials"
	descAuthFailure         = "authentication failure"
	descExpiredToken        = "expired access/refresh token"
	descInvalidAssertion    = "invalid assertion"
	descInvalidAudience     = "audience is invalid"
	descExpiredAssertion    = "expired authorization code"
	descUserNotApproved     = "user hasn't approved this consumer"
	descUnsupportedGrant    = "grant type not supported"
	descInvalidRequest      = "invalid request"
	descInvalidToken        = "invalid token"
	identityMissingToken    = "Missing_OAuth_Token"
	identityBadToken        = "Bad_OAuth_Token"
	identityWrongOrg        = "Wrong_Org"
	identityBadID           = "Bad_Id"
)

// oauthError is a token or revoke endpoint failure. Its fields are fixed
// strings, never request data, so no secret can leak through it.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

var (
	errInvalidClientID = &oauthError{errCodeInvalidClientID, descInvalidClientID}
	errInvalidClient   = &oauthError{errCodeInvalidClient, descInvalidClient}
	errAuthFailure     = &oauthError{errCodeInvalidGrant, descAuthFailure}
	errExpiredRefresh  = &oauthError{errCodeInvalidGrant, descExpiredToken}
	errBadAssertion    = &oauthError{errCodeInvalidGrant, descInvalidAssertion}
	errBadAudience     = &oauthError{errCodeInvalidGrant, descInvalidAudience}
	errExpiredJWT      = &oauthError{errCodeInvalidGrant, descExpiredAssertion}
	errUserNotApproved = &oauthError{errCodeInvalidGrant, descUserNotApproved}
	errUnsupported     = &oauthError{errCodeUnsupportedGrant, descUnsupportedGrant}
	errInvalidRequest  = &oauthError{errCodeInvalidRequest, descInvalidRequest}
	errInvalidToken    = &oauthError{errCodeInvalidToken, descInvalidToken}
)

// writeOAuthError answers HTTP 400 with e as JSON.
func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	writeJSON(w, http.StatusBadRequest, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeIdentityError answers the identity service's plain-text errors.
func writeIdentityError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(code))
}
