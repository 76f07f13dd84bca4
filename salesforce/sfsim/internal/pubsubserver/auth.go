package pubsubserver

import (
	"context"
	"net/url"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
)

// Metadata keys every call carries (protocol reference §1.3).
const (
	mdAccessToken = "accesstoken"
	mdInstanceURL = "instanceurl"
	mdTenantID    = "tenantid"
)

// authenticate checks the auth metadata of a call: accesstoken must be a
// live session, tenantid its org id (15 or 18 characters), and instanceurl
// present and, when Config.InstanceURL is set, the simulator's URL. Every
// failure is UNAUTHENTICATED with [pubsub.ErrorCodeAuthError]; the message
// never contains the token.
func (s *Server) authenticate(ctx context.Context) (auth.Session, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token, inst, tenant := firstValue(md, mdAccessToken), firstValue(md, mdInstanceURL), firstValue(md, mdTenantID)
	var missing []string
	for _, kv := range [][2]string{{mdAccessToken, token}, {mdInstanceURL, inst}, {mdTenantID, tenant}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return auth.Session{}, newError(codes.Unauthenticated, pubsub.ErrorCodeAuthError,
			"missing or blank auth metadata: %s", strings.Join(missing, ", "))
	}
	sess, err := s.cfg.Auth.Validate(token)
	if err != nil {
		return auth.Session{}, newError(codes.Unauthenticated, pubsub.ErrorCodeAuthError,
			"authentication failed: the access token is invalid or expired")
	}
	if !sameOrg(tenant, sess.OrgID) {
		return auth.Session{}, newError(codes.Unauthenticated, pubsub.ErrorCodeAuthError,
			"authentication failed: tenantid %q is not the org of the access token", tenant)
	}
	if s.cfg.InstanceURL != nil && !sameOrigin(inst, s.cfg.InstanceURL()) {
		return auth.Session{}, newError(codes.Unauthenticated, pubsub.ErrorCodeAuthError,
			"authentication failed: instanceurl %q is not this org's instance URL", inst)
	}
	return sess, nil
}

// firstValue returns the first value of key in md, trimmed, or "".
func firstValue(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// sameOrg reports whether tenant is orgID in its 18- or 15-character form.
// The Node client sends the 15-character prefix of the access token when no
// organization id is configured.
func sameOrg(tenant, orgID string) bool {
	switch len(tenant) {
	case 18:
		return tenant == orgID
	case 15:
		return len(orgID) >= 15 && tenant == orgID[:15]
	}
	return false
}

// sameOrigin compares the scheme, host and port of two URLs
// case-insensitively.
func sameOrigin(a, b string) bool {
	ua, errA := url.Parse(strings.TrimSpace(a))
	ub, errB := url.Parse(strings.TrimSpace(b))
	if errA != nil || errB != nil || ua.Host == "" {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}
