package salesforce

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// soapLoginPath is the partner SOAP endpoint, relative to the login URL,
// followed by the API version.
const soapLoginPath = "/services/Soap/u/"

// soapPermanentFaults are the login fault codes that no retry fixes: the
// credentials, the user or the API version must change. Other faults
// (server errors) are retryable.
var soapPermanentFaults = map[string]bool{
	"INVALID_LOGIN":                           true,
	"LOGIN_MUST_USE_SECURITY_TOKEN":           true,
	"PASSWORD_LOCKOUT":                        true,
	"INVALID_OPERATION_WITH_EXPIRED_PASSWORD": true,
	"UNSUPPORTED_API_VERSION":                 true,
	"API_DISABLED_FOR_ORG":                    true,
	"API_CURRENTLY_DISABLED":                  true,
	"ORG_LOCKED":                              true,
	"INACTIVE_OWNER_OR_USER":                  true,
	"Client":                                  true, // soapenv:Client: the request itself was refused
}

// soapLoginResponse is the part of a partner login answer (or fault) a
// Session needs. Tags carry no namespace, so any prefix matches.
type soapLoginResponse struct {
	Body struct {
		LoginResponse *struct {
			Result soapLoginResult `xml:"result"`
		} `xml:"loginResponse"`
		Fault *struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

// soapLoginResult is the result of a successful login call.
type soapLoginResult struct {
	PasswordExpired bool   `xml:"passwordExpired"`
	ServerURL       string `xml:"serverUrl"`
	SessionID       string `xml:"sessionId"`
	UserID          string `xml:"userId"`
	UserInfo        struct {
		OrganizationID string `xml:"organizationId"`
	} `xml:"userInfo"`
}

// soapLogin logs in with the partner SOAP API's login call, as jsforce's
// login() does without an OAuth client.
func (a *Authenticator) soapLogin(ctx context.Context) (Session, error) {
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0" encoding="utf-8"?>` +
		`<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>`)
	_ = xml.EscapeText(&body, []byte(a.cfg.Username))
	body.WriteString(`</n1:username><n1:password>`)
	_ = xml.EscapeText(&body, []byte(a.cfg.Password))
	body.WriteString(`</n1:password></n1:login></env:Body></env:Envelope>`)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.LoginURL+soapLoginPath+a.cfg.APIVersion, &body)
	if err != nil {
		return Session{}, connectorlib.Permanent(fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, err))
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	req.Header.Set("User-Agent", userAgent)
	resp, err := a.hc.Do(req)
	if err != nil {
		return Session{}, a.transportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthBody))
	if err != nil {
		return Session{}, a.transportError(fmt.Errorf("read SOAP login response: %w", err))
	}
	var env soapLoginResponse
	xmlErr := xml.Unmarshal(raw, &env)
	if f := env.Body.Fault; xmlErr == nil && f != nil {
		code := f.Code
		if i := strings.LastIndexByte(code, ':'); i >= 0 {
			code = code[i+1:] // sf:INVALID_LOGIN, soapenv:Client
		}
		e := &AuthError{Flow: a.cfg.Flow, Status: resp.StatusCode,
			Code: scrub(code, a.secrets()...), Message: scrub(f.String, a.secrets()...)}
		return Session{}, classifyAuthError(e, soapPermanentFaults[code], resp.Header, a.now())
	}
	if resp.StatusCode != http.StatusOK || xmlErr != nil || env.Body.LoginResponse == nil {
		e := &AuthError{Flow: a.cfg.Flow, Status: resp.StatusCode,
			Message: "unexpected SOAP login response: " + scrub(shorten(strings.TrimSpace(string(raw))), a.secrets()...)}
		if resp.StatusCode == http.StatusOK {
			// The body may hold a session id: never quote a 200 answer.
			e.Message = "unexpected SOAP login response"
		}
		permanent := resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests
		return Session{}, classifyAuthError(e, permanent, resp.Header, a.now())
	}
	r := env.Body.LoginResponse.Result
	if r.PasswordExpired {
		e := &AuthError{Flow: a.cfg.Flow, Status: resp.StatusCode, Code: "PASSWORD_EXPIRED",
			Message: "the user's password has expired; reset it in Salesforce"}
		return Session{}, connectorlib.PermanentCode(e.Code, e)
	}
	s, err := r.session(a)
	if err != nil {
		return Session{}, connectorlib.Permanent(fmt.Errorf("authenticate with %s: %w", a.cfg.Flow, err))
	}
	return s, nil
}

// session checks a login result. The instance URL is the scheme and host
// of serverUrl.
func (r *soapLoginResult) session(a *Authenticator) (Session, error) {
	if r.SessionID == "" {
		return Session{}, errors.New("SOAP login response has no sessionId")
	}
	instance, err := baseURL(r.ServerURL)
	if err != nil {
		return Session{}, fmt.Errorf("SOAP login response serverUrl: %w", err)
	}
	if r.UserInfo.OrganizationID == "" || r.UserID == "" {
		return Session{}, errors.New("SOAP login response lacks organizationId or userId")
	}
	return Session{AccessToken: r.SessionID, InstanceURL: instance, OrgID: r.UserInfo.OrganizationID,
		UserID: r.UserID, IssuedAt: a.now()}, nil
}
