package auth

import (
	"crypto/rand"
	"net/http"
	"strings"
)

const (
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// accessTokenRandLen makes access tokens 112 characters long, the length of
	// real ones: 15 (org id) + 1 ("!") + 2 ("AR") + 94.
	accessTokenRandLen = 94
	// refreshTokenPrefix and refreshTokenRandLen shape refresh tokens like real
	// ones ("5Aep861…", 87 characters).
	refreshTokenPrefix  = "5Aep861"
	refreshTokenRandLen = 80
)

// randomBase62 returns n characters drawn uniformly from base62Alphabet.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		rand.Read(buf) // never returns an error; it crashes the program instead
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the draw unbiased.
			if b < 248 && len(out) < n {
				out = append(out, base62Alphabet[b%62])
			}
		}
	}
	return string(out)
}

// newAccessToken returns a token shaped like Salesforce's: the 15-character
// org id, "!", then "AR" and random base62.
func newAccessToken(orgID15 string) string {
	return orgID15 + "!AR" + randomBase62(accessTokenRandLen)
}

func newRefreshToken() string {
	return refreshTokenPrefix + randomBase62(refreshTokenRandLen)
}

// BearerToken returns the token from an "Authorization: Bearer <token>" or
// "Authorization: OAuth <token>" header (scheme case-insensitive), or "" when
// there is none. jsforce's streaming client sends OAuth; REST clients and
// cometd send Bearer.
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok {
		return ""
	}
	if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth") {
		return ""
	}
	return strings.TrimSpace(token)
}
