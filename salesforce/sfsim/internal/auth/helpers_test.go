package auth

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test identity. The ids carry correct case-safe checksum suffixes.
const (
	testOrgID         = "00D5g000004ABCDEA4"
	testOrgID15       = "00D5g000004ABCD"
	testUserID        = "0055g00000AbCdEAAV"
	testUsername      = "sim.user@example.com"
	testPassword      = "Pa55-word-hunter2"
	testSecurityToken = "SecTokXYZ123abc"
	testClientID      = "3MVG9sim.client_id.AbCdEf"
	testClientSecret  = "C0nsumerS3cret0987654321"
	testInstanceURL   = "https://127.0.0.1:8443"
)

// t0 is the fake clock's starting time.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type testKeys struct {
	key, otherKey *rsa.PrivateKey
	cert          *x509.Certificate
}

// keys generates, once per test binary, the connected app's RSA key with a
// self-signed certificate, and an unrelated key for forged signatures.
var keys = sync.OnceValues(func() (*testKeys, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sfsim connected app"},
		NotBefore:    t0.Add(-time.Hour),
		NotAfter:     t0.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &testKeys{key: key, otherKey: other, cert: cert}, nil
})

func mustKeys(t *testing.T) *testKeys {
	t.Helper()
	k, err := keys()
	if err != nil {
		t.Fatalf("generate keys: %v", err)
	}
	return k
}

func testConfig(t *testing.T, clock *fakeClock) Config {
	t.Helper()
	return Config{
		OrgID:         testOrgID,
		UserID:        testUserID,
		Username:      testUsername,
		Password:      testPassword,
		SecurityToken: testSecurityToken,
		ClientID:      testClientID,
		ClientSecret:  testClientSecret,
		JWTCert:       mustKeys(t).cert,
		TokenTTL:      time.Hour,
		InstanceURL:   func() string { return testInstanceURL },
		Clock:         clock.Now,
	}
}

// newTestProvider returns a provider on a fake clock starting at t0.
func newTestProvider(t *testing.T) (*Provider, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: t0}
	p, err := New(testConfig(t, clock))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, clock
}

// serve runs req through the provider's handler.
func serve(p *Provider, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, req)
	return rec
}

// postForm builds a form POST to path on the instance URL.
func postForm(path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, testInstanceURL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// signRS256 builds a compact JWT signed with key using RS256 (whatever the
// header claims).
func signRS256(t *testing.T, key *rsa.PrivateKey, header, claims any) string {
	t.Helper()
	signing := b64url(mustJSON(t, header)) + "." + b64url(mustJSON(t, claims))
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return signing + "." + b64url(sig)
}

// signHS256 builds a JWT "signed" with HMAC-SHA256 under secret: the
// algorithm-confusion attack when secret is the public key.
func signHS256(t *testing.T, secret []byte, header, claims any) string {
	t.Helper()
	signing := b64url(mustJSON(t, header)) + "." + b64url(mustJSON(t, claims))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + b64url(mac.Sum(nil))
}

// jwtClaimsFor returns valid claims for the test user, expiring 5 minutes
// after now, the way the Pub/Sub client builds them.
func jwtClaimsFor(now time.Time) map[string]any {
	return map[string]any{
		"iss": testClientID,
		"sub": testUsername,
		"aud": "https://login.salesforce.com",
		"exp": now.Add(5 * time.Minute).Unix(),
	}
}

// secrets lists every value that must never appear in an error response.
func secrets() []string {
	return []string{testPassword, testSecurityToken, testClientSecret}
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}
