package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Salesforce error codes the client acts on.
const (
	// CodeInvalidSessionID is the 401 answer to an expired or revoked
	// access token; the client re-authenticates once and retries.
	CodeInvalidSessionID = "INVALID_SESSION_ID"
	// CodeRequestLimitExceeded is the 403 answer once the org's daily API
	// request budget is spent; retryable, since the budget is a rolling
	// 24-hour window.
	CodeRequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
)

// maxErrorBody bounds how much of an error response is read. Salesforce's
// error bodies are a few hundred bytes; a proxy's HTML page can be more.
const maxErrorBody = 64 << 10

// maxErrorText bounds the text of a non-JSON error body kept in an error.
const maxErrorText = 512

// APIError is an error answer of the Salesforce REST API: an HTTP status
// of 300 or above and the first error of the body. Single-record and query
// resources answer [{"message","errorCode","fields"}], sObject Collections
// {"statusCode",...} (both land in Code); bodies of any other shape (a
// proxy's page, an injected fault) keep their text, shortened, in Message.
//
// The client returns an APIError wrapped in its connectorlib class (find it
// with errors.As):
//
//   - 400, 404, 405, 409, 412, 415 and every other status below 500 not
//     listed here: permanent, with Code (or HTTP_<status> when the body had
//     none) as the connectorlib code. Retrying the same request cannot help.
//   - 403 REQUEST_LIMIT_EXCEEDED, 408, 429 and every status from 500:
//     retryable; throttled (connectorlib.Throttled) with the Retry-After
//     delay when the answer carried that header.
//   - 401 that is still 401 after re-authenticating once: retryable. It is
//     the session's problem, not the request's, so the request must not be
//     dead-lettered for it.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is Salesforce's errorCode (or statusCode), for example
	// REQUIRED_FIELD_MISSING; empty when the body carried none.
	Code string
	// Message is Salesforce's message, or the start of a body that was not
	// a Salesforce error.
	Message string
	// Fields lists the fields the error concerns, when Salesforce names
	// them.
	Fields []string
}

// Error implements error: "HTTP 400 REQUIRED_FIELD_MISSING: Required
// fields are missing: [LastName] (fields LastName)".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(" (fields " + strings.Join(e.Fields, ", ") + ")")
	}
	return b.String()
}

// AuthError is a login that Salesforce refused: an OAuth token endpoint
// error ({"error","error_description"}) or a SOAP login fault. Its text
// names the flow and never contains a secret: the server's message is
// scrubbed of every secret of the configuration.
//
// Refused credentials (HTTP 400 and the SOAP login faults) are permanent:
// the configuration must change. A sink should not dead-letter records for
// an AuthError; errors.As tells it apart from a record's own failure.
// 429 and server errors are retryable.
type AuthError struct {
	// Flow is the authentication flow (AuthConfig.Flow).
	Flow string
	// Status is the HTTP status of the answer.
	Status int
	// Code is the OAuth error (invalid_client, invalid_grant, ...) or the
	// SOAP fault code (INVALID_LOGIN, ...).
	Code string
	// Message is the error_description or faultstring.
	Message string
}

// Error implements error: "authenticate with client_credentials:
// invalid_client: invalid client credentials (HTTP 400)".
func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("authenticate with " + e.Flow + ":")
	if e.Code != "" {
		b.WriteString(" " + e.Code + ":")
	}
	if e.Message != "" {
		b.WriteString(" " + e.Message)
	} else {
		b.WriteString(" login refused")
	}
	fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	return b.String()
}

// errorBody is one element of a REST error answer.
type errorBody struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
	// OAuth-style bodies, which some Salesforce resources (and proxies in
	// front of them) use.
	OAuthError       string `json:"error"`
	OAuthDescription string `json:"error_description"`
}

func (b errorBody) code() string {
	switch {
	case b.ErrorCode != "":
		return b.ErrorCode
	case b.StatusCode != "":
		return b.StatusCode
	}
	return b.OAuthError
}

func (b errorBody) message() string {
	if b.Message != "" {
		return b.Message
	}
	return b.OAuthDescription
}

// parseAPIError builds the APIError of a non-2xx answer. Salesforce sends
// an array of errors; the first one is kept, the messages of the others
// are appended.
func parseAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	trimmed := bytes.TrimSpace(body)
	var list []errorBody
	if err := json.Unmarshal(trimmed, &list); err == nil && len(list) > 0 {
		e.Code, e.Message, e.Fields = list[0].code(), list[0].message(), list[0].Fields
		for _, more := range list[1:] {
			if m := more.message(); m != "" {
				e.Message += "; " + m
			}
		}
		return e
	}
	var one errorBody
	if err := json.Unmarshal(trimmed, &one); err == nil && (one.code() != "" || one.message() != "") {
		e.Code, e.Message, e.Fields = one.code(), one.message(), one.Fields
		return e
	}
	e.Message = shorten(string(trimmed))
	return e
}

// shorten keeps the start of a text body, on a rune boundary.
func shorten(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// classifyAPIError wraps e in its connectorlib class; see APIError.
func classifyAPIError(e *APIError, h http.Header, now time.Time) error {
	retryable := e.Status >= 500 || e.Status == http.StatusTooManyRequests ||
		e.Status == http.StatusRequestTimeout || e.Status == http.StatusUnauthorized ||
		(e.Status == http.StatusForbidden && e.Code == CodeRequestLimitExceeded)
	if !retryable {
		code := e.Code
		if code == "" {
			code = "HTTP_" + strconv.Itoa(e.Status)
		}
		return connectorlib.PermanentCode(code, e)
	}
	if d, ok := retryAfter(h, now); ok {
		return connectorlib.Throttled(e, d)
	}
	return connectorlib.Retryable(e)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// scrub replaces every occurrence of each non-empty secret in s. It is
// applied to text a server sent back before it goes into an error, so a
// server that echoes a submitted secret cannot leak it into logs.
func scrub(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redactedText)
		}
	}
	return s
}
