package auth

import (
	"net/http"
	"strings"
)

// identityVersion is the "{version}" placeholder Salesforce leaves in the
// urls map of userinfo and identity responses for clients to fill in.
const identityVersion = "{version}"

// userURLs is the urls map of userinfo and identity responses.
type userURLs struct {
	Enterprise   string `json:"enterprise"`
	Metadata     string `json:"metadata"`
	Partner      string `json:"partner"`
	REST         string `json:"rest"`
	SObjects     string `json:"sobjects"`
	Search       string `json:"search"`
	Query        string `json:"query"`
	Recent       string `json:"recent"`
	ToolingSOAP  string `json:"tooling_soap"`
	ToolingREST  string `json:"tooling_rest"`
	Profile      string `json:"profile"`
	CustomDomain string `json:"custom_domain"`
}

// userinfoResponse is the OpenID Connect userinfo body. The Pub/Sub client
// reads organization_id and preferred_username.
type userinfoResponse struct {
	Sub               string   `json:"sub"`
	UserID            string   `json:"user_id"`
	OrganizationID    string   `json:"organization_id"`
	PreferredUsername string   `json:"preferred_username"`
	Nickname          string   `json:"nickname"`
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	Zoneinfo          string   `json:"zoneinfo"`
	Active            bool     `json:"active"`
	UserType          string   `json:"user_type"`
	Language          string   `json:"language"`
	Locale            string   `json:"locale"`
	UTCOffset         int      `json:"utcOffset"`
	UpdatedAt         string   `json:"updated_at"`
	IsAppInstalled    bool     `json:"is_app_installed"`
	URLs              userURLs `json:"urls"`
}

// identityResponse is the body of the identity URL (<instance>/id/<org>/<user>).
type identityResponse struct {
	ID               string   `json:"id"`
	AssertedUser     bool     `json:"asserted_user"`
	UserID           string   `json:"user_id"`
	OrganizationID   string   `json:"organization_id"`
	Username         string   `json:"username"`
	NickName         string   `json:"nick_name"`
	DisplayName      string   `json:"display_name"`
	Email            string   `json:"email"`
	EmailVerified    bool     `json:"email_verified"`
	Timezone         string   `json:"timezone"`
	Active           bool     `json:"active"`
	UserType         string   `json:"user_type"`
	Language         string   `json:"language"`
	Locale           string   `json:"locale"`
	UTCOffset        int      `json:"utcOffset"`
	LastModifiedDate string   `json:"last_modified_date"`
	IsAppInstalled   bool     `json:"is_app_installed"`
	URLs             userURLs `json:"urls"`
}

// Fixed profile values of the simulated user.
const (
	userTimezone = "GMT"
	userLocale   = "en_US"
	userType     = "STANDARD"
)

// sessionFromRequest reads the access token from the Authorization header or
// the access_token / oauth_token parameters (the identity service accepts
// both) and validates it. It writes the identity service's 403 on failure.
func (p *Provider) sessionFromRequest(w http.ResponseWriter, r *http.Request) (Session, bool) {
	token := BearerToken(r)
	if token == "" {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err == nil {
			token = r.Form.Get("access_token")
			if token == "" {
				token = r.Form.Get("oauth_token")
			}
		}
	}
	if token == "" {
		writeIdentityError(w, http.StatusForbidden, identityMissingToken)
		return Session{}, false
	}
	s, err := p.Validate(token)
	if err != nil {
		writeIdentityError(w, http.StatusForbidden, identityBadToken)
		return Session{}, false
	}
	return s, true
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	s, ok := p.sessionFromRequest(w, r)
	if !ok {
		return
	}
	nick := nickname(s.Username)
	writeJSON(w, http.StatusOK, &userinfoResponse{
		Sub:               p.idURL(),
		UserID:            s.UserID,
		OrganizationID:    s.OrgID,
		PreferredUsername: s.Username,
		Nickname:          nick,
		Name:              nick,
		Email:             s.Username,
		EmailVerified:     true,
		Zoneinfo:          userTimezone,
		Active:            true,
		UserType:          userType,
		Language:          userLocale,
		Locale:            userLocale,
		UpdatedAt:         p.created.UTC().Format("2006-01-02T15:04:05Z"),
		IsAppInstalled:    true,
		URLs:              p.urls(),
	})
}

func (p *Provider) serveIdentity(w http.ResponseWriter, r *http.Request) {
	s, ok := p.sessionFromRequest(w, r)
	if !ok {
		return
	}
	if !sameID(r.PathValue("org"), s.OrgID) {
		writeIdentityError(w, http.StatusForbidden, identityWrongOrg)
		return
	}
	if !sameID(r.PathValue("user"), s.UserID) {
		writeIdentityError(w, http.StatusNotFound, identityBadID)
		return
	}
	nick := nickname(s.Username)
	writeJSON(w, http.StatusOK, &identityResponse{
		ID:               p.idURL(),
		AssertedUser:     true,
		UserID:           s.UserID,
		OrganizationID:   s.OrgID,
		Username:         s.Username,
		NickName:         nick,
		DisplayName:      nick,
		Email:            s.Username,
		EmailVerified:    true,
		Timezone:         userTimezone,
		Active:           true,
		UserType:         userType,
		Language:         userLocale,
		Locale:           userLocale,
		LastModifiedDate: p.created.UTC().Format("2006-01-02T15:04:05.000+0000"),
		IsAppInstalled:   true,
		URLs:             p.urls(),
	})
}

func (p *Provider) urls() userURLs {
	base := p.instanceURL()
	return userURLs{
		Enterprise:   base + "/services/Soap/c/" + identityVersion + "/" + p.orgID15,
		Metadata:     base + "/services/Soap/m/" + identityVersion + "/" + p.orgID15,
		Partner:      base + "/services/Soap/u/" + identityVersion + "/" + p.orgID15,
		REST:         base + "/services/data/v" + identityVersion + "/",
		SObjects:     base + "/services/data/v" + identityVersion + "/sobjects/",
		Search:       base + "/services/data/v" + identityVersion + "/search/",
		Query:        base + "/services/data/v" + identityVersion + "/query/",
		Recent:       base + "/services/data/v" + identityVersion + "/recent/",
		ToolingSOAP:  base + "/services/Soap/T/" + identityVersion + "/" + p.orgID15,
		ToolingREST:  base + "/services/data/v" + identityVersion + "/tooling/",
		Profile:      base + "/" + p.cfg.UserID,
		CustomDomain: base,
	}
}

// sameID reports whether got names the 18-character id want, in its 18- or
// 15-character form. 15-character ids are case-sensitive; the 18-character
// suffix is not.
func sameID(got, want string) bool {
	switch len(got) {
	case 15:
		return got == want[:15]
	case 18:
		return got[:15] == want[:15] && strings.EqualFold(got[15:], want[15:])
	}
	return false
}

// nickname is the local part of an email-shaped username.
func nickname(username string) string {
	if at := strings.IndexByte(username, '@'); at > 0 {
		return username[:at]
	}
	return username
}
