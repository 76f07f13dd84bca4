package auth

import (
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// soapVersionRE matches an API version in a SOAP endpoint path, e.g. "50.0".
var soapVersionRE = regexp.MustCompile(`^[1-9][0-9]?[0-9]?\.[0-9]$`)

// loginEnvelope is a partner login request. Tags carry no namespace, so the
// envelope prefix clients choose (soapenv, se, env, none) does not matter.
type loginEnvelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Body    struct {
		Login *struct {
			Username string `xml:"username"`
			Password string `xml:"password"`
		} `xml:"login"`
	} `xml:"Body"`
}

// SOAP fault codes and strings, as Salesforce's partner API sends them.
const (
	faultInvalidLoginCode    = "INVALID_LOGIN"
	faultInvalidLoginMessage = "Invalid username, password, security token; or user locked out."
	faultVersionCode         = "UNSUPPORTED_API_VERSION"
	faultVersionMessage      = "Invalid Api version specified on URL"
	faultClientString        = "Unable to parse the login request"
)

func (p *Provider) serveSOAPLogin(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	if !soapVersionRE.MatchString(version) {
		writeSOAPFault(w, "sf:"+faultVersionCode, faultVersionCode+": "+faultVersionMessage,
			faultVersionCode, faultVersionMessage, "UnexpectedErrorFault")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	var env loginEnvelope
	if err == nil {
		err = xml.Unmarshal(body, &env)
	}
	if err != nil || env.Body.Login == nil {
		writeSOAPFault(w, "soapenv:Client", faultClientString, "", "", "")
		return
	}
	if !p.checkUser(env.Body.Login.Username, env.Body.Login.Password) {
		writeSOAPFault(w, "sf:"+faultInvalidLoginCode, faultInvalidLoginCode+": "+faultInvalidLoginMessage,
			faultInvalidLoginCode, faultInvalidLoginMessage, "LoginFault")
		return
	}
	token, s := p.issue("")
	base := p.instanceURL()

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString(`<soapenv:Body><loginResponse><result>`)
	elem(&b, "metadataServerUrl", base+"/services/Soap/m/"+version+"/"+p.orgID15)
	elem(&b, "passwordExpired", "false")
	elem(&b, "sandbox", "false")
	elem(&b, "serverUrl", base+"/services/Soap/u/"+version+"/"+p.orgID15)
	elem(&b, "sessionId", token)
	elem(&b, "userId", s.UserID)
	b.WriteString(`<userInfo>`)
	elem(&b, "accessibilityMode", "false")
	elem(&b, "currencySymbol", "$")
	elem(&b, "orgAttachmentFileSizeLimit", "26214400")
	elem(&b, "orgDefaultCurrencyIsoCode", "USD")
	elem(&b, "orgDefaultCurrencyLocale", userLocale)
	elem(&b, "orgDisallowHtmlAttachments", "false")
	elem(&b, "orgHasPersonAccounts", "false")
	elem(&b, "organizationId", s.OrgID)
	elem(&b, "organizationMultiCurrency", "false")
	elem(&b, "organizationName", "sfsim")
	elem(&b, "sessionSecondsValid", strconv.FormatInt(p.ttlSeconds(), 10))
	elem(&b, "userEmail", s.Username)
	elem(&b, "userFullName", nickname(s.Username))
	elem(&b, "userId", s.UserID)
	elem(&b, "userLanguage", userLocale)
	elem(&b, "userLocale", userLocale)
	elem(&b, "userName", s.Username)
	elem(&b, "userTimeZone", userTimezone)
	elem(&b, "userType", "Standard")
	elem(&b, "userUiSkin", "Theme3")
	b.WriteString(`</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>`)

	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, b.String())
}

// elem writes <name>escaped value</name>.
func elem(b *strings.Builder, name, value string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString("</" + name + ">")
}

// writeSOAPFault answers HTTP 500 with a SOAP 1.1 fault, as Salesforce does.
// When detailType is set, the fault carries an sf:<detailType> detail with the
// exception code and message.
func writeSOAPFault(w http.ResponseWriter, faultCode, faultString, exceptionCode, exceptionMessage, detailType string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString(`<soapenv:Body><soapenv:Fault>`)
	elem(&b, "faultcode", faultCode)
	elem(&b, "faultstring", faultString)
	if detailType != "" {
		b.WriteString(`<detail><sf:` + detailType + ` xsi:type="sf:` + detailType + `">`)
		elem(&b, "sf:exceptionCode", exceptionCode)
		elem(&b, "sf:exceptionMessage", exceptionMessage)
		b.WriteString(`</sf:` + detailType + `></detail>`)
	}
	b.WriteString(`</soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, b.String())
}
