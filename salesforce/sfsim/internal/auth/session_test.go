package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProvider_Validate_Expiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration
		wantErr bool
	}{
		{name: "fresh", advance: 0},
		{name: "just before expiry", advance: time.Hour - time.Nanosecond},
		{name: "at expiry", advance: time.Hour, wantErr: true},
		{name: "long after expiry", advance: 48 * time.Hour, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, clock := newTestProvider(t)
			token, issued := p.IssueToken()
			clock.Advance(tt.advance)
			s, err := p.Validate(token)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidSession) {
					t.Fatalf("Validate = %+v, %v; want ErrInvalidSession", s, err)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("error %q contains the token", err)
				}
				return
			}
			if err != nil || s != issued {
				t.Fatalf("Validate = %+v, %v; want %+v", s, err, issued)
			}
		})
	}
}

func TestProvider_Validate_Unknown(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	for _, token := range []string{"", "garbage", testOrgID15 + "!ARdoesnotexist"} {
		if _, err := p.Validate(token); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidSession", token, err)
		}
	}
	// A refresh token is not an access token.
	if _, err := p.Validate(p.IssueRefreshToken()); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("Validate(refresh token) = %v, want ErrInvalidSession", err)
	}
}

func TestProvider_SetTokenTTL(t *testing.T) {
	t.Parallel()
	p, clock := newTestProvider(t)
	before, _ := p.IssueToken()
	p.SetTokenTTL(time.Minute)
	after, s := p.IssueToken()
	if got := s.Expires.Sub(s.IssuedAt); got != time.Minute {
		t.Errorf("new session lifetime = %v, want 1m", got)
	}
	clock.Advance(time.Minute)
	if _, err := p.Validate(after); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("token issued after SetTokenTTL(1m): %v after 1m, want ErrInvalidSession", err)
	}
	if _, err := p.Validate(before); err != nil {
		t.Errorf("token issued before SetTokenTTL keeps its 1h lifetime: %v", err)
	}
	p.SetTokenTTL(0)
	if _, s := p.IssueToken(); s.Expires.Sub(s.IssuedAt) != DefaultTokenTTL {
		t.Errorf("SetTokenTTL(0) lifetime = %v, want %v", s.Expires.Sub(s.IssuedAt), DefaultTokenTTL)
	}
}

func TestProvider_ExpireAll(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	a, _ := p.IssueToken()
	b, _ := p.IssueToken()
	refresh := p.IssueRefreshToken()
	p.ExpireAll()
	for _, tok := range []string{a, b} {
		if _, err := p.Validate(tok); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("after ExpireAll: Validate = %v, want ErrInvalidSession", err)
		}
	}
	// The refresh token survives, so a client recovers.
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {refresh}}
	rec := serve(p, postForm("/services/oauth2/token", form))
	if rec.Code != http.StatusOK {
		t.Fatalf("refresh after ExpireAll: status %d, body %s", rec.Code, rec.Body)
	}
	if _, err := p.Validate(decodeJSON[tokenBody](t, rec).AccessToken); err != nil {
		t.Errorf("refreshed token: %v", err)
	}
}

func TestProvider_Expire(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	a, _ := p.IssueToken()
	b, _ := p.IssueToken()
	if !p.Expire(a) {
		t.Error("Expire(live token) = false, want true")
	}
	if p.Expire(a) {
		t.Error("Expire(expired token) = true, want false")
	}
	if _, err := p.Validate(a); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("expired token: %v, want ErrInvalidSession", err)
	}
	if _, err := p.Validate(b); err != nil {
		t.Errorf("other token: %v", err)
	}
}

func TestProvider_Revoke(t *testing.T) {
	t.Parallel()
	type setup struct {
		p                   *Provider
		access, fromRefresh string
		refresh, unrelated  string
	}
	tests := []struct {
		name        string
		method      string
		token       func(s setup) string
		wantCode    int
		wantRevoked func(s setup) []string // tokens that must now be invalid
		wantLive    func(s setup) []string // tokens that must still validate
	}{
		{
			name: "access token", method: http.MethodPost,
			token:       func(s setup) string { return s.access },
			wantCode:    http.StatusOK,
			wantRevoked: func(s setup) []string { return []string{s.access} },
			wantLive:    func(s setup) []string { return []string{s.fromRefresh, s.unrelated} },
		},
		{
			name: "access token by GET", method: http.MethodGet,
			token:       func(s setup) string { return s.access },
			wantCode:    http.StatusOK,
			wantRevoked: func(s setup) []string { return []string{s.access} },
		},
		{
			name: "refresh token revokes its access tokens", method: http.MethodPost,
			token:       func(s setup) string { return s.refresh },
			wantCode:    http.StatusOK,
			wantRevoked: func(s setup) []string { return []string{s.fromRefresh} },
			wantLive:    func(s setup) []string { return []string{s.access, s.unrelated} },
		},
		{name: "unknown token", method: http.MethodPost, token: func(setup) string { return "nope" }, wantCode: http.StatusBadRequest},
		{name: "missing token", method: http.MethodPost, token: func(setup) string { return "" }, wantCode: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTestProvider(t)
			s := setup{p: p, refresh: p.IssueRefreshToken()}
			s.access, _ = p.IssueToken()
			s.unrelated, _ = p.IssueToken()
			form := url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {s.refresh}}
			s.fromRefresh = decodeJSON[tokenBody](t, serve(p, postForm("/services/oauth2/token", form))).AccessToken

			q := url.Values{}
			if tok := tt.token(s); tok != "" {
				q.Set("token", tok)
			}
			var req *http.Request
			if tt.method == http.MethodGet {
				req = httptest.NewRequest(http.MethodGet, testInstanceURL+"/services/oauth2/revoke?"+q.Encode(), nil)
			} else {
				req = postForm("/services/oauth2/revoke", q)
			}
			rec := serve(p, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode == http.StatusBadRequest {
				got := decodeJSON[errorBody](t, rec)
				if got.Error != "invalid_token" || got.Description != "invalid token" {
					t.Errorf("error = %+v", got)
				}
			}
			if tt.wantRevoked != nil {
				for _, tok := range tt.wantRevoked(s) {
					if _, err := p.Validate(tok); !errors.Is(err, ErrInvalidSession) {
						t.Errorf("revoked token still valid: %v", err)
					}
				}
			}
			if tt.wantLive != nil {
				for _, tok := range tt.wantLive(s) {
					if _, err := p.Validate(tok); err != nil {
						t.Errorf("unrelated token invalidated: %v", err)
					}
				}
			}
			// Revoking the same token twice fails the second time.
			if tt.wantCode == http.StatusOK {
				if rec := serve(p, postForm("/services/oauth2/revoke", q)); rec.Code != http.StatusBadRequest {
					t.Errorf("second revoke: status %d, want 400", rec.Code)
				}
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{name: "bearer", header: "Bearer 00D!abc", want: "00D!abc"},
		{name: "oauth", header: "OAuth 00D!abc", want: "00D!abc"},
		{name: "lowercase scheme", header: "bearer 00D!abc", want: "00D!abc"},
		{name: "extra spaces", header: "  Bearer   00D!abc  ", want: "00D!abc"},
		{name: "basic", header: "Basic dXNlcjpwYXNz", want: ""},
		{name: "no scheme", header: "00D!abc", want: ""},
		{name: "empty", header: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if got := BearerToken(r); got != tt.want {
				t.Errorf("BearerToken(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestWriteInvalidSession(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteInvalidSession(rec)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", rec.Code)
	}
	if want := `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`; rec.Body.String() != want {
		t.Errorf("body = %s, want %s", rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestProvider_IssueToken_Unique(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	seen := make(map[string]bool)
	for range 1000 {
		tok, _ := p.IssueToken()
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
	rt := p.IssueRefreshToken()
	if !strings.HasPrefix(rt, refreshTokenPrefix) || len(rt) != len(refreshTokenPrefix)+refreshTokenRandLen {
		t.Errorf("refresh token %q: want %s… of %d characters", rt, refreshTokenPrefix, len(refreshTokenPrefix)+refreshTokenRandLen)
	}
}

// TestProvider_Sweep checks that expired sessions do not accumulate.
func TestProvider_Sweep(t *testing.T) {
	t.Parallel()
	p, clock := newTestProvider(t)
	for range sweepEvery - 1 {
		p.IssueToken()
	}
	clock.Advance(2 * time.Hour)
	live, _ := p.IssueToken() // the sweepEvery-th issue sweeps
	p.mu.Lock()
	n := len(p.sessions)
	p.mu.Unlock()
	if n != 1 {
		t.Errorf("sessions after sweep = %d, want 1", n)
	}
	if _, err := p.Validate(live); err != nil {
		t.Errorf("live token swept: %v", err)
	}
}

func TestProvider_Concurrent(t *testing.T) {
	t.Parallel()
	p, clock := newTestProvider(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				tok, _ := p.IssueToken()
				_, _ = p.Validate(tok) // may fail: another goroutine may have run ExpireAll
				switch j % 50 {
				case 0:
					p.ExpireAll()
				case 1:
					p.Expire(tok)
				case 2:
					p.SetTokenTTL(time.Duration(i+1) * time.Minute)
				case 3:
					clock.Advance(time.Second)
				case 4:
					p.revoke(p.IssueRefreshToken())
				}
			}
		})
	}
	wg.Wait()
}
