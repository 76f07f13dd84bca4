package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

type tokenBody struct {
	AccessToken    string `json:"access_token"`
	RefreshToken   string `json:"refresh_token"`
	Signature      string `json:"signature"`
	Scope          string `json:"scope"`
	InstanceURL    string `json:"instance_url"`
	ID             string `json:"id"`
	TokenType      string `json:"token_type"`
	IssuedAt       string `json:"issued_at"`
	APIInstanceURL string `json:"api_instance_url"`
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// jsforceIDs splits an id URL the way jsforce does: the user id is the last
// path segment and the org id the one before it.
func jsforceIDs(id string) (orgID, userID string) {
	parts := strings.Split(id, "/")
	return parts[len(parts)-2], parts[len(parts)-1]
}

func TestProvider_Token_Grants(t *testing.T) {
	t.Parallel()
	pw := testPassword + testSecurityToken
	type basic struct{ id, secret string }
	tests := []struct {
		name  string
		form  func(p *Provider) url.Values // p lets a case mint a refresh token first
		basic *basic
		// want on success
		wantRefresh   bool
		wantSignature bool
		wantAPIURL    bool
		// want on failure (empty wantErr = success)
		wantErr  string
		wantDesc string
	}{
		{
			name: "password",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "username": {testUsername}, "password": {pw}}
			},
			wantSignature: true,
		},
		{
			name: "password username case-insensitive",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "username": {strings.ToUpper(testUsername)}, "password": {pw}}
			},
			wantSignature: true,
		},
		{
			name:  "password client in basic auth",
			basic: &basic{testClientID, testClientSecret},
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "username": {testUsername}, "password": {pw}}
			},
			wantSignature: true,
		},
		{
			name: "password wrong password",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "username": {testUsername}, "password": {"wrong" + testSecurityToken}}
			},
			wantErr: "invalid_grant", wantDesc: "authentication failure",
		},
		{
			name: "password without security token",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "username": {testUsername}, "password": {testPassword}}
			},
			wantErr: "invalid_grant", wantDesc: "authentication failure",
		},
		{
			name: "password wrong username",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "username": {"other@example.com"}, "password": {pw}}
			},
			wantErr: "invalid_grant", wantDesc: "authentication failure",
		},
		{
			name: "password wrong client secret",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {"nope"}, "username": {testUsername}, "password": {pw}}
			},
			wantErr: "invalid_client", wantDesc: "invalid client credentials",
		},
		{
			name: "password missing client secret",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "username": {testUsername}, "password": {pw}}
			},
			wantErr: "invalid_client", wantDesc: "invalid client credentials",
		},
		{
			name: "password unknown client id",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"password"}, "client_id": {"someone-else"}, "client_secret": {testClientSecret}, "username": {testUsername}, "password": {pw}}
			},
			wantErr: "invalid_client_id", wantDesc: "client identifier invalid",
		},
		{
			name: "client credentials in form",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testClientSecret}}
			},
			wantSignature: true, wantAPIURL: true,
		},
		{
			name:  "client credentials in basic auth",
			basic: &basic{testClientID, testClientSecret},
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}}
			},
			wantSignature: true, wantAPIURL: true,
		},
		{
			name:  "client credentials basic auth wrong secret",
			basic: &basic{testClientID, "wrong"},
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}}
			},
			wantErr: "invalid_client", wantDesc: "invalid client credentials",
		},
		{
			name:  "client credentials basic auth unknown client",
			basic: &basic{"unknown", testClientSecret},
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}}
			},
			wantErr: "invalid_client_id", wantDesc: "client identifier invalid",
		},
		{
			name: "client credentials wrong secret",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testClientSecret + "x"}}
			},
			wantErr: "invalid_client", wantDesc: "invalid client credentials",
		},
		{
			name: "client credentials missing secret",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}}
			},
			wantErr: "invalid_client", wantDesc: "invalid client credentials",
		},
		{
			name: "client credentials no client at all",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"client_credentials"}}
			},
			wantErr: "invalid_client_id", wantDesc: "client identifier invalid",
		},
		{
			name: "refresh token",
			form: func(p *Provider) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {p.IssueRefreshToken()}}
			},
			wantRefresh: true, wantSignature: true,
		},
		{
			name: "refresh token with client secret",
			form: func(p *Provider) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "refresh_token": {p.IssueRefreshToken()}}
			},
			wantRefresh: true, wantSignature: true,
		},
		{
			name: "refresh token wrong client secret",
			form: func(p *Provider) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "client_secret": {"bad"}, "refresh_token": {p.IssueRefreshToken()}}
			},
			wantErr: "invalid_client", wantDesc: "invalid client credentials",
		},
		{
			name: "refresh token unknown client",
			form: func(p *Provider) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {"unknown"}, "refresh_token": {p.IssueRefreshToken()}}
			},
			wantErr: "invalid_client_id", wantDesc: "client identifier invalid",
		},
		{
			name: "refresh token unknown",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {"5Aep861NotAToken"}}
			},
			wantErr: "invalid_grant", wantDesc: "expired access/refresh token",
		},
		{
			name: "refresh token revoked",
			form: func(p *Provider) url.Values {
				rt := p.IssueRefreshToken()
				p.revoke(rt)
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {rt}}
			},
			wantErr: "invalid_grant", wantDesc: "expired access/refresh token",
		},
		{
			name: "access token is not a refresh token",
			form: func(p *Provider) url.Values {
				tok, _ := p.IssueToken()
				return url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {tok}}
			},
			wantErr: "invalid_grant", wantDesc: "expired access/refresh token",
		},
		{
			name: "authorization code not supported",
			form: func(*Provider) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {"aPrx123"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "redirect_uri": {"https://app.example/cb"}}
			},
			wantErr: "unsupported_grant_type", wantDesc: "grant type not supported",
		},
		{
			name:    "missing grant type",
			form:    func(*Provider) url.Values { return url.Values{"client_id": {testClientID}} },
			wantErr: "unsupported_grant_type", wantDesc: "grant type not supported",
		},
		{
			name:    "unknown grant type",
			form:    func(*Provider) url.Values { return url.Values{"grant_type": {"implicit"}} },
			wantErr: "unsupported_grant_type", wantDesc: "grant type not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTestProvider(t)
			form := tt.form(p)
			req := postForm("/services/oauth2/token", form)
			if tt.basic != nil {
				req.SetBasicAuth(tt.basic.id, tt.basic.secret)
			}
			rec := serve(p, req)
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}

			if tt.wantErr != "" {
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
				}
				got := decodeJSON[errorBody](t, rec)
				if got.Error != tt.wantErr || got.Description != tt.wantDesc {
					t.Errorf("error = %q/%q, want %q/%q", got.Error, got.Description, tt.wantErr, tt.wantDesc)
				}
				for _, s := range append(secrets(), form.Get("refresh_token")) {
					if s != "" && strings.Contains(rec.Body.String(), s) {
						t.Errorf("error body leaks a submitted secret: %s", rec.Body)
					}
				}
				return
			}

			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			got := decodeJSON[tokenBody](t, rec)
			checkTokenShape(t, p, got)
			if (got.RefreshToken != "") != tt.wantRefresh {
				t.Errorf("refresh_token = %q, want present=%v", got.RefreshToken, tt.wantRefresh)
			}
			if tt.wantRefresh && got.RefreshToken != form.Get("refresh_token") {
				t.Errorf("refresh_token is not the presented one")
			}
			if (got.Signature != "") != tt.wantSignature {
				t.Errorf("signature = %q, want present=%v", got.Signature, tt.wantSignature)
			}
			if tt.wantSignature {
				mac := hmac.New(sha256.New, []byte(testClientSecret))
				mac.Write([]byte(got.ID + got.IssuedAt))
				if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); got.Signature != want {
					t.Errorf("signature = %q, want %q", got.Signature, want)
				}
			}
			if tt.wantAPIURL != (got.APIInstanceURL != "") {
				t.Errorf("api_instance_url = %q, want present=%v", got.APIInstanceURL, tt.wantAPIURL)
			}
			if tt.wantAPIURL && got.APIInstanceURL != testInstanceURL {
				t.Errorf("api_instance_url = %q, want %q", got.APIInstanceURL, testInstanceURL)
			}
		})
	}
}

// checkTokenShape checks the fields every successful token response has and
// that the access token validates.
func checkTokenShape(t *testing.T, p *Provider, got tokenBody) {
	t.Helper()
	orgID, token, ok := strings.Cut(got.AccessToken, "!")
	if !ok || orgID != testOrgID15 || len(got.AccessToken) != 112 {
		t.Errorf("access_token = %q, want %s!… of 112 characters", got.AccessToken, testOrgID15)
	}
	for _, c := range []byte(token) {
		if !isBase62(c) {
			t.Errorf("access_token has non-base62 %q after the '!'", c)
			break
		}
	}
	if got.InstanceURL != testInstanceURL {
		t.Errorf("instance_url = %q, want %q", got.InstanceURL, testInstanceURL)
	}
	if want := testInstanceURL + "/id/" + testOrgID + "/" + testUserID; got.ID != want {
		t.Errorf("id = %q, want %q", got.ID, want)
	}
	if org, user := jsforceIDs(got.ID); org != testOrgID || user != testUserID {
		t.Errorf("jsforce would parse org %q user %q from id", org, user)
	}
	if got.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer", got.TokenType)
	}
	if want := strconv.FormatInt(t0.UnixMilli(), 10); got.IssuedAt != want {
		t.Errorf("issued_at = %q, want %q", got.IssuedAt, want)
	}
	if got.Scope == "" {
		t.Error("scope is empty")
	}
	s, err := p.Validate(got.AccessToken)
	if err != nil {
		t.Fatalf("Validate(access_token): %v", err)
	}
	want := Session{OrgID: testOrgID, UserID: testUserID, Username: testUsername, IssuedAt: t0, Expires: t0.Add(time.Hour)}
	if s != want {
		t.Errorf("session = %+v, want %+v", s, want)
	}
}

func TestProvider_Token_MethodNotAllowed(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	rec := serve(p, httptest.NewRequest(http.MethodGet, testInstanceURL+"/services/oauth2/token?grant_type=client_credentials", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET token: status = %d, want 405", rec.Code)
	}
}

func TestProvider_Token_OversizedBody(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	form := url.Values{"grant_type": {"password"}, "junk": {strings.Repeat("x", maxFormBytes)}}
	rec := serve(p, postForm("/services/oauth2/token", form))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", rec.Code)
	}
	if got := decodeJSON[errorBody](t, rec); got.Error != "invalid_request" {
		t.Errorf("error = %q, want invalid_request", got.Error)
	}
}
