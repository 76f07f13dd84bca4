package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type userinfoBody struct {
	Sub               string `json:"sub"`
	UserID            string `json:"user_id"`
	OrganizationID    string `json:"organization_id"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	Active            bool   `json:"active"`
	URLs              struct {
		REST string `json:"rest"`
	} `json:"urls"`
}

func TestProvider_Userinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		auth     func(token string) (header, query string)
		expire   bool // advance the clock past the token's expiry first
		wantCode int
		wantBody string // for errors: the exact plain-text body
	}{
		{name: "bearer", method: http.MethodGet, auth: func(tok string) (string, string) { return "Bearer " + tok, "" }, wantCode: http.StatusOK},
		{name: "oauth scheme", method: http.MethodGet, auth: func(tok string) (string, string) { return "OAuth " + tok, "" }, wantCode: http.StatusOK},
		{name: "post", method: http.MethodPost, auth: func(tok string) (string, string) { return "Bearer " + tok, "" }, wantCode: http.StatusOK},
		{name: "access_token parameter", method: http.MethodGet, auth: func(tok string) (string, string) { return "", "?access_token=" + tok }, wantCode: http.StatusOK},
		{name: "missing token", method: http.MethodGet, auth: func(string) (string, string) { return "", "" }, wantCode: http.StatusForbidden, wantBody: "Missing_OAuth_Token"},
		{name: "unknown token", method: http.MethodGet, auth: func(string) (string, string) { return "Bearer " + testOrgID15 + "!ARnope", "" }, wantCode: http.StatusForbidden, wantBody: "Bad_OAuth_Token"},
		{name: "expired token", method: http.MethodGet, expire: true, auth: func(tok string) (string, string) { return "Bearer " + tok, "" }, wantCode: http.StatusForbidden, wantBody: "Bad_OAuth_Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, clock := newTestProvider(t)
			token, _ := p.IssueToken()
			if tt.expire {
				clock.Advance(time.Hour)
			}
			header, query := tt.auth(token)
			req := httptest.NewRequest(tt.method, testInstanceURL+"/services/oauth2/userinfo"+query, nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			rec := serve(p, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != http.StatusOK {
				if got := rec.Body.String(); got != tt.wantBody {
					t.Errorf("body = %q, want %q", got, tt.wantBody)
				}
				return
			}
			got := decodeJSON[userinfoBody](t, rec)
			want := userinfoBody{
				Sub:               testInstanceURL + "/id/" + testOrgID + "/" + testUserID,
				UserID:            testUserID,
				OrganizationID:    testOrgID,
				PreferredUsername: testUsername,
				Email:             testUsername,
				Active:            true,
			}
			want.URLs.REST = testInstanceURL + "/services/data/v{version}/"
			if got != want {
				t.Errorf("userinfo = %+v,\nwant       %+v", got, want)
			}
		})
	}
}

func TestProvider_Identity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		path     string
		wantCode int
		wantBody string
	}{
		{name: "18-character ids", path: "/id/" + testOrgID + "/" + testUserID, wantCode: http.StatusOK},
		{name: "15-character ids", path: "/id/" + testOrgID15 + "/" + testUserID[:15], wantCode: http.StatusOK},
		{name: "checksum suffix case-insensitive", path: "/id/" + testOrgID15 + strings.ToLower(testOrgID[15:]) + "/" + testUserID, wantCode: http.StatusOK},
		{name: "15-character id is case-sensitive", path: "/id/" + strings.ToLower(testOrgID15) + "/" + testUserID, wantCode: http.StatusForbidden, wantBody: "Wrong_Org"},
		{name: "other org", path: "/id/00D000000000001EAA/" + testUserID, wantCode: http.StatusForbidden, wantBody: "Wrong_Org"},
		{name: "other user", path: "/id/" + testOrgID + "/005000000000001AAA", wantCode: http.StatusNotFound, wantBody: "Bad_Id"},
		{name: "malformed user", path: "/id/" + testOrgID + "/xyz", wantCode: http.StatusNotFound, wantBody: "Bad_Id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTestProvider(t)
			token, _ := p.IssueToken()
			req := httptest.NewRequest(http.MethodGet, testInstanceURL+tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := serve(p, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != http.StatusOK {
				if rec.Body.String() != tt.wantBody {
					t.Errorf("body = %q, want %q", rec.Body, tt.wantBody)
				}
				return
			}
			got := decodeJSON[struct {
				ID             string `json:"id"`
				UserID         string `json:"user_id"`
				OrganizationID string `json:"organization_id"`
				Username       string `json:"username"`
			}](t, rec)
			if got.ID != testInstanceURL+"/id/"+testOrgID+"/"+testUserID || got.UserID != testUserID ||
				got.OrganizationID != testOrgID || got.Username != testUsername {
				t.Errorf("identity = %+v", got)
			}
		})
	}
}
