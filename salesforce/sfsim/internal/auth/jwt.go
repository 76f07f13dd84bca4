package auth

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// Audiences accepted in JWT bearer assertions besides the request's own base
// URL and the instance URL: Salesforce's production and sandbox login hosts.
const (
	audienceProduction = "https://login.salesforce.com"
	audienceSandbox    = "https://test.salesforce.com"
)

type jwtHeader struct {
	Alg string `json:"alg"`
}

type jwtClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"` // a string or an array of strings (RFC 7519 §4.1.3)
	Exp *float64        `json:"exp"` // NumericDate: seconds, possibly fractional
	Nbf *float64        `json:"nbf"`
}

// verifyAssertion checks a JWT bearer assertion: compact form, alg RS256 only,
// signature against the configured certificate, then iss, aud, exp/nbf and
// sub. The signature is checked before any claim, so unsigned or forged
// tokens learn nothing about the configuration.
func (p *Provider) verifyAssertion(assertion, requestBase string, now time.Time) *oauthError {
	if p.pub == nil {
		return errBadAssertion
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errBadAssertion
	}
	headerJSON, err1 := decodeSegment(parts[0])
	claimsJSON, err2 := decodeSegment(parts[1])
	sig, err3 := decodeSegment(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return errBadAssertion
	}
	var h jwtHeader
	if err := json.Unmarshal(headerJSON, &h); err != nil || h.Alg != "RS256" {
		return errBadAssertion
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(p.pub, crypto.SHA256, digest[:], sig); err != nil {
		return errBadAssertion
	}
	var c jwtClaims
	dec := json.NewDecoder(bytes.NewReader(claimsJSON))
	if err := dec.Decode(&c); err != nil {
		return errBadAssertion
	}
	if c.Iss != p.cfg.ClientID {
		return errInvalidClientID
	}
	if !p.audienceOK(c.Aud, requestBase) {
		return errBadAudience
	}
	if c.Exp == nil || math.IsNaN(*c.Exp) {
		return errBadAssertion
	}
	if !now.Before(numericDate(*c.Exp)) {
		return errExpiredJWT
	}
	if c.Nbf != nil && now.Before(numericDate(*c.Nbf)) {
		return errExpiredJWT
	}
	if !strings.EqualFold(c.Sub, p.cfg.Username) {
		return errUserNotApproved
	}
	return nil
}

// audienceOK reports whether aud (a JSON string or array of strings) names an
// accepted audience.
func (p *Provider) audienceOK(raw json.RawMessage, requestBase string) bool {
	var auds []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		auds = []string{one}
	} else if err := json.Unmarshal(raw, &auds); err != nil {
		return false
	}
	accepted := []string{requestBase, p.instanceURL(), audienceProduction, audienceSandbox}
	for _, a := range auds {
		a = strings.TrimRight(a, "/")
		if a == "" {
			continue
		}
		for _, ok := range accepted {
			if strings.EqualFold(a, strings.TrimRight(ok, "/")) {
				return true
			}
		}
	}
	return false
}

// decodeSegment decodes a base64url JWT segment, tolerating the padding some
// encoders leave on.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// numericDate converts a JWT NumericDate (seconds since the epoch) to a time.
func numericDate(sec float64) time.Time {
	const maxSec = 1 << 40 // far beyond any real date; avoids overflow below
	sec = math.Max(-maxSec, math.Min(maxSec, sec))
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}
