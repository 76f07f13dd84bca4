package auth

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestProvider_Token_JWTBearer(t *testing.T) {
	t.Parallel()
	k := mustKeys(t)
	rs256 := map[string]any{"alg": "RS256"}
	claims := func(edit func(c map[string]any)) map[string]any {
		c := jwtClaimsFor(t0)
		if edit != nil {
			edit(c)
		}
		return c
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, k)})

	tests := []struct {
		name      string
		assertion string
		noCert    bool   // provider without JWTCert
		target    string // request URL base; "" = the instance URL
		wantErr   string
		wantDesc  string
	}{
		{name: "aud login.salesforce.com", assertion: signRS256(t, k.key, rs256, claims(nil))},
		{name: "aud test.salesforce.com", assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["aud"] = "https://test.salesforce.com" }))},
		{name: "aud instance URL", assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["aud"] = testInstanceURL }))},
		{name: "aud instance URL trailing slash", assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["aud"] = testInstanceURL + "/" }))},
		{
			name:      "aud is the login URL the client posted to",
			target:    "https://localhost:8443",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["aud"] = "https://localhost:8443" })),
		},
		{name: "aud as array", assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["aud"] = []string{"https://other.example", testInstanceURL} }))},
		{name: "header with typ", assertion: signRS256(t, k.key, map[string]any{"alg": "RS256", "typ": "JWT"}, claims(nil))},
		{name: "sub case-insensitive", assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["sub"] = strings.ToUpper(testUsername) }))},
		{name: "fractional exp", assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["exp"] = float64(t0.Unix()) + 0.5 }))},

		{
			name:      "signed by another key",
			assertion: signRS256(t, k.otherKey, rs256, claims(nil)),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "claims tampered after signing",
			assertion: tamper(t, signRS256(t, k.key, rs256, claims(nil)), claims(func(c map[string]any) { c["sub"] = "admin@example.com" })),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "alg none",
			assertion: b64url(mustJSON(t, map[string]any{"alg": "none"})) + "." + b64url(mustJSON(t, claims(nil))) + ".",
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "alg none with a valid RS256 signature",
			assertion: signRS256(t, k.key, map[string]any{"alg": "none"}, claims(nil)),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "alg HS256 keyed with the public key",
			assertion: signHS256(t, pubPEM, map[string]any{"alg": "HS256"}, claims(nil)),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "alg RS512",
			assertion: signRS256(t, k.key, map[string]any{"alg": "RS512"}, claims(nil)),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "wrong iss",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["iss"] = "3MVG9other" })),
			wantErr:   "invalid_client_id", wantDesc: "client identifier invalid",
		},
		{
			name:      "wrong sub",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["sub"] = "other@example.com" })),
			wantErr:   "invalid_grant", wantDesc: "user hasn't approved this consumer",
		},
		{
			name:      "wrong aud",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["aud"] = "https://evil.example" })),
			wantErr:   "invalid_grant", wantDesc: "audience is invalid",
		},
		{
			name:      "missing aud",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { delete(c, "aud") })),
			wantErr:   "invalid_grant", wantDesc: "audience is invalid",
		},
		{
			name:      "expired",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["exp"] = t0.Add(-time.Second).Unix() })),
			wantErr:   "invalid_grant", wantDesc: "expired authorization code",
		},
		{
			name:      "exp equals now",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["exp"] = t0.Unix() })),
			wantErr:   "invalid_grant", wantDesc: "expired authorization code",
		},
		{
			name:      "nbf in the future",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["nbf"] = t0.Add(time.Minute).Unix() })),
			wantErr:   "invalid_grant", wantDesc: "expired authorization code",
		},
		{
			name:      "missing exp",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { delete(c, "exp") })),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{
			name:      "exp not a number",
			assertion: signRS256(t, k.key, rs256, claims(func(c map[string]any) { c["exp"] = "tomorrow" })),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
		{name: "two segments", assertion: "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0", wantErr: "invalid_grant", wantDesc: "invalid assertion"},
		{name: "not base64", assertion: "!!!.???.***", wantErr: "invalid_grant", wantDesc: "invalid assertion"},
		{name: "empty assertion", assertion: "", wantErr: "invalid_grant", wantDesc: "invalid assertion"},
		{
			name:      "no certificate configured",
			noCert:    true,
			assertion: signRS256(t, k.key, rs256, claims(nil)),
			wantErr:   "invalid_grant", wantDesc: "invalid assertion",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{now: t0}
			cfg := testConfig(t, clock)
			if tt.noCert {
				cfg.JWTCert = nil
			}
			p, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			base := tt.target
			if base == "" {
				base = testInstanceURL
			}
			form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tt.assertion}}
			req := httptest.NewRequest(http.MethodPost, base+"/services/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := serve(p, req)

			if tt.wantErr != "" {
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
				}
				got := decodeJSON[errorBody](t, rec)
				if got.Error != tt.wantErr || got.Description != tt.wantDesc {
					t.Errorf("error = %q/%q, want %q/%q", got.Error, got.Description, tt.wantErr, tt.wantDesc)
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			got := decodeJSON[tokenBody](t, rec)
			checkTokenShape(t, p, got)
			if got.RefreshToken != "" || got.Signature != "" {
				t.Errorf("JWT response has refresh_token %q / signature %q, want neither", got.RefreshToken, got.Signature)
			}
		})
	}
}

// tamper replaces the claims segment of a signed JWT, keeping its signature.
func tamper(t *testing.T, jwt string, claims map[string]any) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	parts[1] = b64url(mustJSON(t, claims))
	return strings.Join(parts, ".")
}

func mustPKIX(t *testing.T, k *testKeys) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	return der
}

func TestProvider_Token_JWTBearer_ExpiresOnAdvancedClock(t *testing.T) {
	t.Parallel()
	p, clock := newTestProvider(t)
	k := mustKeys(t)
	assertion := signRS256(t, k.key, map[string]any{"alg": "RS256"}, jwtClaimsFor(t0))
	post := func() *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
		return serve(p, postForm("/services/oauth2/token", form))
	}
	if rec := post(); rec.Code != http.StatusOK {
		t.Fatalf("fresh assertion: status %d, body %s", rec.Code, rec.Body)
	}
	clock.Advance(5 * time.Minute)
	rec := post()
	if got := decodeJSON[errorBody](t, rec); rec.Code != http.StatusBadRequest || got.Description != "expired authorization code" {
		t.Errorf("after 5 min: status %d, body %s; want 400 expired authorization code", rec.Code, rec.Body)
	}
}
