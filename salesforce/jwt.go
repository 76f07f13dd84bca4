package salesforce

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// jwtLifetime is how long a JWT bearer assertion is valid. Salesforce
// requires exp within 3 minutes of its clock; the assertion is used at
// once, so a short life costs nothing.
const jwtLifetime = 3 * time.Minute

// jwtHeader is the fixed, pre-encoded JOSE header: RS256 is the only
// algorithm Salesforce accepts.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))

// jwtClaims are the claims of a JWT bearer assertion.
type jwtClaims struct {
	Iss string `json:"iss"` // the connected app's client id
	Sub string `json:"sub"` // the username
	Aud string `json:"aud"` // the login URL
	Exp int64  `json:"exp"` // seconds since the epoch
}

// assertion returns a signed JWT bearer assertion for the configured
// client id, user and login URL.
func (a *Authenticator) assertion() (string, error) {
	claims, err := json.Marshal(jwtClaims{
		Iss: a.cfg.ClientID, Sub: a.cfg.Username, Aud: a.cfg.LoginURL,
		Exp: a.now().Add(jwtLifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("encode JWT claims: %w", err)
	}
	signingInput := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT assertion: %w", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// loadRSAKey reads an unencrypted RSA private key from a PEM file, in
// PKCS #1 ("RSA PRIVATE KEY") or PKCS #8 ("PRIVATE KEY") form. Its errors
// never quote the file's content.
func loadRSAKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("no RSA PRIVATE KEY or PRIVATE KEY PEM block in %s", path)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			if _, encrypted := block.Headers["DEK-Info"]; encrypted {
				return nil, fmt.Errorf("the private key in %s is encrypted; sfconnect needs it unencrypted", path)
			}
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("the RSA PRIVATE KEY in %s is not a valid PKCS #1 key", path)
			}
			return key, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("the PRIVATE KEY in %s is not a valid PKCS #8 key", path)
			}
			key, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the PRIVATE KEY in %s is a %T, not an RSA key (Salesforce signs JWTs with RS256 only)", path, k)
			}
			return key, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key in " + path + " is encrypted; sfconnect needs it unencrypted")
		}
		// Other blocks (a certificate bundled in the same file) are skipped.
	}
}
