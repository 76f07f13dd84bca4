package salesforce

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// redactedText replaces secrets wherever this package prints them.
const redactedText = "[REDACTED]"

// redacted returns redactedText for a set secret and "" for an unset one,
// so that a printed configuration still tells whether it was given.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return redactedText
}

// Session is an authenticated Salesforce session: the access token and
// where and for whom it is valid. Salesforce does not say when a token
// expires; a call made with an expired one fails with 401
// INVALID_SESSION_ID, and the holder then asks its TokenProvider for a new
// session.
//
// String, GoString and LogValue print every field but AccessToken, which
// they redact; the token only ever leaves this value in an Authorization
// header.
type Session struct {
	// AccessToken is the bearer token (an OAuth access token or a SOAP
	// session id, which Salesforce treats alike).
	AccessToken string
	// InstanceURL is the base URL of the org's instance, for example
	// https://mydomain.my.salesforce.com, without a trailing slash. REST
	// calls go there, not to the login URL.
	InstanceURL string
	// OrgID and UserID are the 18-character ids of the org and of the user
	// the session belongs to. The Pub/Sub API calls OrgID the tenant id.
	OrgID  string
	UserID string
	// IssuedAt is when Salesforce issued the token (the token response's
	// issued_at), or when the SOAP login returned.
	IssuedAt time.Time
}

// String implements fmt.Stringer, with the access token redacted.
func (s Session) String() string {
	return fmt.Sprintf("salesforce.Session{InstanceURL:%s OrgID:%s UserID:%s IssuedAt:%s AccessToken:%s}",
		s.InstanceURL, s.OrgID, s.UserID, s.IssuedAt.UTC().Format(time.RFC3339), redacted(s.AccessToken))
}

// GoString implements fmt.GoStringer (the %#v verb), with the access token
// redacted.
func (s Session) GoString() string { return s.String() }

// LogValue implements slog.LogValuer, with the access token redacted.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("instance_url", s.InstanceURL),
		slog.String("org_id", s.OrgID),
		slog.String("user_id", s.UserID),
		slog.Time("issued_at", s.IssuedAt),
		slog.String("access_token", redacted(s.AccessToken)),
	)
}

// TokenProvider hands out Salesforce sessions to the clients that call
// Salesforce (REST, Pub/Sub, CometD) and is told when one stops working.
// Implementations are safe for concurrent use.
//
// The contract:
//
//   - Session returns the cached session, authenticating first when none is
//     cached. Concurrent callers that find no session share one
//     authentication: one token request, whose result (session or error)
//     they all receive. A caller whose ctx ends while it waits returns
//     ctx's error; the authentication goes on for the others. Errors are
//     classified with connectorlib: rejected credentials are permanent,
//     network failures and 5xx answers retryable. An error never contains
//     a secret.
//   - Invalidate(accessToken) drops the cached session if it still holds
//     accessToken, and does nothing otherwise. A caller whose request was
//     refused with 401 INVALID_SESSION_ID passes the token it used: when N
//     callers fail with the same expired token, the first drops it, the
//     others find a newer session (or the authentication in flight) and
//     the org sees one login, not N. Invalidate never blocks on the
//     network.
type TokenProvider interface {
	Session(ctx context.Context) (Session, error)
	Invalidate(accessToken string)
}
