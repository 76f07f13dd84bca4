package ingest

import (
	"strings"
	"testing"
)

// salesforceMessage is an Outbound Message as Salesforce sends it (two
// notifications; a nil field; the session id set).
const salesforceMessage = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D8a00000SIMRGEA5</OrganizationId>
   <ActionId>04k8a000000001AAA0</ActionId>
   <SessionId>00D8a00000SIMRG!AQ0AQFakeSession</SessionId>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/00D8a00000SIMRG</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/00D8a00000SIMRG</PartnerUrl>
   <Notification>
    <Id>04l8a000000001AAA0</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0018a000000001AAA0</sf:Id>
     <sf:Name>Acme &amp; Sons</sf:Name>
     <sf:Phone xsi:nil="true"/>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l8a000000002AAA0</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0018a000000002AAA0</sf:Id>
     <sf:Name>Globex</sf:Name>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`

func TestParseOutbound_SalesforceMessage(t *testing.T) {
	t.Parallel()
	m, err := ParseOutbound([]byte(salesforceMessage))
	if err != nil {
		t.Fatal(err)
	}
	if m.OrganizationID != "00D8a00000SIMRGEA5" || m.ActionID != "04k8a000000001AAA0" || !m.HasSessionID || len(m.Notifications) != 2 {
		t.Fatalf("message = %+v", m)
	}
	n := m.Notifications[0]
	if n.ID != "04l8a000000001AAA0" || n.Object != "Account" || n.RecordID != "0018a000000001AAA0" ||
		n.Fields["Name"] != "Acme & Sons" || n.Fields["Phone"] != nil || len(n.Fields) != 2 {
		t.Fatalf("notification = %+v", n)
	}
	if strings.Contains(strings.Join([]string{m.EnterpriseURL, m.PartnerURL}, ""), "Session") {
		t.Fatal("the session id must not be kept")
	}
}

func TestParseOutbound_Errors(t *testing.T) {
	t.Parallel()
	note := `<Notification><Id>04l1</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:x"><sf:Id>001</sf:Id></sObject></Notification>`
	wrap := func(inner string) string {
		return `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">` + inner + `</notifications></soapenv:Body></soapenv:Envelope>`
	}
	cases := []struct{ name, body, want string }{
		{"empty", "", "no SOAP envelope"},
		{"truncated", salesforceMessage[:300], "malformed XML"},
		{"not soap", `<notifications/>`, "malformed XML"},
		{"no notifications element", `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>`, "no notifications"},
		{"no org", wrap(note), "without OrganizationId"},
		{"no notification", wrap(`<OrganizationId>00D</OrganizationId>`), "without notifications"},
		{"no id", wrap(`<OrganizationId>00D</OrganizationId><Notification><Id> </Id></Notification>`), "without an Id"},
		{"repeated id", wrap(`<OrganizationId>00D</OrganizationId>` + note + note), "appears twice"},
		{"too many", wrap(`<OrganizationId>00D</OrganizationId>` + strings.Repeat(`<Notification><Id>x</Id></Notification>`, 101)), "at most 100"},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]>` + wrap(""), "DOCTYPE"},
		{"trailing content", wrap(`<OrganizationId>00D</OrganizationId>`+note) + `<more/>`, "after the envelope"},
	}
	for _, tc := range cases {
		_, err := ParseOutbound([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParseOutbound: whatever the bytes, ParseOutbound returns a message
// or an error, never panics, and a message it returns satisfies the
// parser's own guarantees. Seeds: testdata/fuzz/FuzzParseOutbound and the
// Salesforce message.
func FuzzParseOutbound(f *testing.F) {
	f.Add([]byte(salesforceMessage))
	f.Add([]byte(outboundBody("00D8a00000SIMRGEA5", "04l8a0000000001")))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseOutbound(body)
		if err != nil {
			return
		}
		if m.OrganizationID == "" || len(m.Notifications) == 0 || len(m.Notifications) > maxNotifications {
			t.Fatalf("accepted an invalid message: %+v", m)
		}
		for _, n := range m.Notifications {
			if n.ID == "" || n.Fields == nil {
				t.Fatalf("accepted a notification without id: %+v", n)
			}
		}
	})
}
