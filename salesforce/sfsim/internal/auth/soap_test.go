package auth

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The regular expressions jsforce's SOAP login applies to the response body
// (described in test-infrastructure.md §4.1 and salesforce-protocol.md §5.1):
// the first match of each element, any text up to the next '<'.
var (
	jsforceFaultRE           = regexp.MustCompile(`<faultstring>([^<]+)</faultstring>`)
	jsforcePasswordExpiredRE = regexp.MustCompile(`<passwordExpired>true</passwordExpired>`)
	jsforceServerURLRE       = regexp.MustCompile(`<serverUrl>([^<]+)</serverUrl>`)
	jsforceSessionIDRE       = regexp.MustCompile(`<sessionId>([^<]+)</sessionId>`)
	jsforceUserIDRE          = regexp.MustCompile(`<userId>([^<]+)</userId>`)
	jsforceOrgIDRE           = regexp.MustCompile(`<organizationId>([^<]+)</organizationId>`)
	userNameRE               = regexp.MustCompile(`<userName>([^<]+)</userName>`)
)

// jsforceEnvelope is the login request jsforce sends: an "se"-prefixed
// envelope with an unprefixed partner login element.
func jsforceEnvelope(username, password string) string {
	var u, p strings.Builder
	_ = xml.EscapeText(&u, []byte(username))
	_ = xml.EscapeText(&p, []byte(password))
	return `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body>` +
		`<login xmlns="urn:partner.soap.sforce.com"><username>` + u.String() + `</username><password>` + p.String() +
		`</password></login></se:Body></se:Envelope>`
}

func soapRequest(version, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, testInstanceURL+"/services/Soap/u/"+version, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("SOAPAction", `""`)
	return req
}

func submatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func TestProvider_SOAPLogin_Success(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string // configured password (the security token is appended)
		version  string
		body     func(password string) string
	}{
		{name: "jsforce envelope v50", password: testPassword, version: "50.0", body: func(pw string) string { return jsforceEnvelope(testUsername, pw) }},
		{name: "password needing XML escapes", password: `p&ss<w>rd"'`, version: "62.0", body: func(pw string) string { return jsforceEnvelope(testUsername, pw) }},
		{name: "username case-insensitive", password: testPassword, version: "50.0", body: func(pw string) string { return jsforceEnvelope(strings.ToUpper(testUsername), pw) }},
		{
			name: "soapenv prefix and prefixed login element", password: testPassword, version: "64.0",
			body: func(pw string) string {
				return `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">` +
					`<soapenv:Body><urn:login><urn:username>` + testUsername + `</urn:username><urn:password>` + pw + `</urn:password></urn:login></soapenv:Body></soapenv:Envelope>`
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{now: t0}
			cfg := testConfig(t, clock)
			cfg.Password = tt.password
			p, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			rec := serve(p, soapRequest(tt.version, tt.body(tt.password+testSecurityToken)))
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
				t.Errorf("Content-Type = %q, want text/xml", ct)
			}
			if jsforcePasswordExpiredRE.MatchString(body) {
				t.Error("response says passwordExpired true")
			}
			if !strings.Contains(body, "<passwordExpired>false</passwordExpired>") {
				t.Error("response lacks <passwordExpired>false</passwordExpired>")
			}
			serverURL := submatch(jsforceServerURLRE, body)
			if want := testInstanceURL + "/services/Soap/u/" + tt.version + "/" + testOrgID15; serverURL != want {
				t.Errorf("serverUrl = %q, want %q", serverURL, want)
			}
			// jsforce: instanceUrl = serverUrl cut to scheme://host[:port].
			if inst := strings.Join(strings.Split(serverURL, "/")[:3], "/"); inst != testInstanceURL {
				t.Errorf("instance URL derived from serverUrl = %q, want %q", inst, testInstanceURL)
			}
			if got := submatch(jsforceUserIDRE, body); got != testUserID {
				t.Errorf("userId = %q, want %q", got, testUserID)
			}
			if got := submatch(jsforceOrgIDRE, body); got != testOrgID {
				t.Errorf("organizationId = %q, want %q", got, testOrgID)
			}
			if got := submatch(userNameRE, body); got != testUsername {
				t.Errorf("userName = %q, want %q", got, testUsername)
			}
			sessionID := submatch(jsforceSessionIDRE, body)
			if !strings.HasPrefix(sessionID, testOrgID15+"!") {
				t.Errorf("sessionId = %q, want prefix %s!", sessionID, testOrgID15)
			}
			s, err := p.Validate(sessionID)
			if err != nil {
				t.Fatalf("Validate(sessionId): %v", err)
			}
			if s.OrgID != testOrgID || s.UserID != testUserID || s.Username != testUsername {
				t.Errorf("session = %+v", s)
			}
			// The whole envelope must be well-formed XML.
			if err := xml.Unmarshal(rec.Body.Bytes(), new(struct{})); err != nil {
				t.Errorf("response is not well-formed XML: %v", err)
			}
		})
	}
}

func TestProvider_SOAPLogin_Faults(t *testing.T) {
	t.Parallel()
	const invalidLogin = "INVALID_LOGIN: Invalid username, password, security token; or user locked out."
	tests := []struct {
		name            string
		version         string
		body            string
		wantFaultCode   string
		wantFaultString string
	}{
		{name: "wrong password", version: "50.0", body: jsforceEnvelope(testUsername, "wrong"+testSecurityToken), wantFaultCode: "sf:INVALID_LOGIN", wantFaultString: invalidLogin},
		{name: "missing security token", version: "50.0", body: jsforceEnvelope(testUsername, testPassword), wantFaultCode: "sf:INVALID_LOGIN", wantFaultString: invalidLogin},
		{name: "wrong username", version: "50.0", body: jsforceEnvelope("nobody@example.com", testPassword+testSecurityToken), wantFaultCode: "sf:INVALID_LOGIN", wantFaultString: invalidLogin},
		{name: "empty credentials", version: "50.0", body: jsforceEnvelope("", ""), wantFaultCode: "sf:INVALID_LOGIN", wantFaultString: invalidLogin},
		{name: "not XML", version: "50.0", body: "username=x&password=y", wantFaultCode: "soapenv:Client", wantFaultString: "Unable to parse the login request"},
		{
			name: "no login element", version: "50.0",
			body:          `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Body><logout xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>`,
			wantFaultCode: "soapenv:Client", wantFaultString: "Unable to parse the login request",
		},
		{name: "bad version", version: "v50", body: jsforceEnvelope(testUsername, testPassword+testSecurityToken), wantFaultCode: "sf:UNSUPPORTED_API_VERSION", wantFaultString: "UNSUPPORTED_API_VERSION: Invalid Api version specified on URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTestProvider(t)
			rec := serve(p, soapRequest(tt.version, tt.body))
			body := rec.Body.String()
			// jsforce: status >= 400 -> Error(faultstring).
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status = %d, want 500; body %s", rec.Code, body)
			}
			if got := submatch(jsforceFaultRE, body); got != tt.wantFaultString {
				t.Errorf("faultstring = %q, want %q", got, tt.wantFaultString)
			}
			if got := submatch(regexp.MustCompile(`<faultcode>([^<]+)</faultcode>`), body); got != tt.wantFaultCode {
				t.Errorf("faultcode = %q, want %q", got, tt.wantFaultCode)
			}
			if strings.Contains(body, "<sessionId>") {
				t.Error("fault carries a sessionId")
			}
			for _, s := range secrets() {
				if strings.Contains(body, s) {
					t.Errorf("fault leaks a secret: %s", body)
				}
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), new(struct{})); err != nil {
				t.Errorf("fault is not well-formed XML: %v", err)
			}
		})
	}
}

func TestProvider_SOAPLogin_InvalidLoginDetail(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	rec := serve(p, soapRequest("50.0", jsforceEnvelope(testUsername, "bad")))
	var env struct {
		Body struct {
			Fault struct {
				Detail struct {
					LoginFault struct {
						Code    string `xml:"exceptionCode"`
						Message string `xml:"exceptionMessage"`
					} `xml:"LoginFault"`
				} `xml:"detail"`
			} `xml:"Fault"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("parse fault: %v", err)
	}
	lf := env.Body.Fault.Detail.LoginFault
	if lf.Code != "INVALID_LOGIN" || lf.Message != "Invalid username, password, security token; or user locked out." {
		t.Errorf("LoginFault = %+v", lf)
	}
}
