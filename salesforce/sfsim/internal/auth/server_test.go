package auth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startServer serves a provider over real HTTP, with the instance URL known
// only after the listener starts, as in sfsim. The clock is the wall clock.
func startServer(t *testing.T) (*Provider, *httptest.Server) {
	t.Helper()
	var base atomic.Pointer[string]
	cfg := testConfig(t, &fakeClock{now: t0})
	cfg.Clock = nil
	cfg.InstanceURL = func() string { return *base.Load() }
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	base.Store(&srv.URL)
	return p, srv
}

func doJSON(t *testing.T, req *http.Request, wantStatus int, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", req.Method, req.URL.Path, resp.StatusCode, wantStatus, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
}

// TestServer_PubSubClientFlows replays, over HTTP, what the Pub/Sub client's
// oauth-client-credentials and oauth-jwt-bearer modes do: token on loginUrl,
// then userinfo on loginUrl, then the tenant id from the token prefix.
func TestServer_PubSubClientFlows(t *testing.T) {
	t.Parallel()
	k := mustKeys(t)
	tests := []struct {
		name string
		form func(loginURL string) url.Values
		auth func(req *http.Request)
	}{
		{
			name: "client credentials basic auth",
			form: func(string) url.Values { return url.Values{"grant_type": {"client_credentials"}} },
			auth: func(req *http.Request) { req.SetBasicAuth(testClientID, testClientSecret) },
		},
		{
			name: "jwt bearer with aud = loginUrl",
			form: func(loginURL string) url.Values {
				claims := map[string]any{"iss": testClientID, "sub": testUsername, "aud": loginURL, "exp": time.Now().Add(5 * time.Minute).Unix()}
				return url.Values{
					"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
					"assertion":  {signRS256(t, k.key, map[string]any{"alg": "RS256"}, claims)},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := startServer(t)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/services/oauth2/token", strings.NewReader(tt.form(srv.URL).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.auth != nil {
				tt.auth(req)
			}
			var tok tokenBody
			doJSON(t, req, http.StatusOK, &tok)
			if tok.InstanceURL != srv.URL {
				t.Errorf("instance_url = %q, want %q", tok.InstanceURL, srv.URL)
			}
			if org, user := jsforceIDs(tok.ID); org != testOrgID || user != testUserID {
				t.Errorf("id %q parses to %q/%q", tok.ID, org, user)
			}

			req, _ = http.NewRequest(http.MethodGet, srv.URL+"/services/oauth2/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			var ui userinfoBody
			doJSON(t, req, http.StatusOK, &ui)
			if ui.OrganizationID != testOrgID || ui.PreferredUsername != testUsername {
				t.Errorf("userinfo organization_id %q preferred_username %q", ui.OrganizationID, ui.PreferredUsername)
			}

			// user-supplied mode: the tenant id is the token prefix, 15 or 18 characters.
			tenant, _, _ := strings.Cut(tok.AccessToken, "!")
			if len(tenant) != 15 || !strings.HasPrefix(testOrgID, tenant) {
				t.Errorf("token prefix %q is not the 15-character org id", tenant)
			}

			// jsforce's identity(): GET the id URL.
			req, _ = http.NewRequest(http.MethodGet, tok.ID, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			doJSON(t, req, http.StatusOK, nil)

			// After a forced expiry the identity service refuses the token.
			p.ExpireAll()
			req, _ = http.NewRequest(http.MethodGet, srv.URL+"/services/oauth2/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("userinfo after ExpireAll: status %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestServer_SOAPLogin replays jsforce's login() without an OAuth client.
func TestServer_SOAPLogin(t *testing.T) {
	t.Parallel()
	p, srv := startServer(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/services/Soap/u/50.0",
		strings.NewReader(jsforceEnvelope(testUsername, testPassword+testSecurityToken)))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("SOAPAction", `""`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	serverURL := submatch(jsforceServerURLRE, string(body))
	if inst := strings.Join(strings.Split(serverURL, "/")[:3], "/"); inst != srv.URL {
		t.Errorf("instance URL from serverUrl = %q, want %q", inst, srv.URL)
	}
	if _, err := p.Validate(submatch(jsforceSessionIDRE, string(body))); err != nil {
		t.Errorf("sessionId: %v", err)
	}
}
