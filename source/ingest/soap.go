package ingest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxNotifications is the most notifications Salesforce puts in one
// Outbound Message.
const maxNotifications = 100

// OutboundMessage is one parsed Outbound Message (a notifications call).
type OutboundMessage struct {
	OrganizationID string
	ActionID       string
	// HasSessionID tells whether a session id was sent; the id itself is a
	// credential and is never kept.
	HasSessionID  bool
	EnterpriseURL string
	PartnerURL    string
	Notifications []Notification
}

// Notification is one notification of an Outbound Message.
type Notification struct {
	// ID is the notification id: the same across Salesforce's retries.
	ID string
	// Object is the sObject type (xsi:type without its prefix); empty when
	// the record was deleted before delivery and the notification carries
	// no data.
	Object string
	// RecordID is the record's Id field, if sent.
	RecordID string
	// Fields are the sObject's fields other than Id, as text; a field sent
	// with xsi:nil is nil.
	Fields map[string]any
}

// The XML namespaces in the tags below are those of the outbound
// messaging WSDL: SOAP 1.1 envelope, http://soap.sforce.com/2005/09/outbound
// and XML Schema instance (for xsi:type and xsi:nil).
type soapEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Notifications *soapNotifications `xml:"http://soap.sforce.com/2005/09/outbound notifications"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type soapNotifications struct {
	OrganizationID string             `xml:"http://soap.sforce.com/2005/09/outbound OrganizationId"`
	ActionID       string             `xml:"http://soap.sforce.com/2005/09/outbound ActionId"`
	SessionID      soapText           `xml:"http://soap.sforce.com/2005/09/outbound SessionId"`
	EnterpriseURL  string             `xml:"http://soap.sforce.com/2005/09/outbound EnterpriseUrl"`
	PartnerURL     string             `xml:"http://soap.sforce.com/2005/09/outbound PartnerUrl"`
	Notification   []soapNotification `xml:"http://soap.sforce.com/2005/09/outbound Notification"`
}

type soapNotification struct {
	ID      string      `xml:"http://soap.sforce.com/2005/09/outbound Id"`
	SObject *soapObject `xml:"http://soap.sforce.com/2005/09/outbound sObject"`
}

type soapObject struct {
	Type   string      `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
	Fields []soapField `xml:",any"`
}

type soapField struct {
	XMLName xml.Name
	Nil     string      `xml:"http://www.w3.org/2001/XMLSchema-instance nil,attr"`
	Text    string      `xml:",chardata"`
	Nested  []soapField `xml:",any"`
}

type soapText struct {
	Nil  string `xml:"http://www.w3.org/2001/XMLSchema-instance nil,attr"`
	Text string `xml:",chardata"`
}

// ParseOutbound parses an Outbound Message SOAP envelope. It returns an
// error for anything that is not a well-formed notifications call with 1
// to 100 notifications, each with an id; it never panics.
func ParseOutbound(body []byte) (*OutboundMessage, error) {
	var env soapEnvelope
	dec := xml.NewDecoder(bytes.NewReader(body))
	// encoding/xml expands no external entities; a DOCTYPE is refused
	// outright, as SOAP 1.1 forbids it.
	if err := decodeNoDTD(dec, &env); err != nil {
		return nil, err
	}
	n := env.Body.Notifications
	if n == nil {
		return nil, errors.New("not an Outbound Message: the SOAP body has no notifications element")
	}
	msg := &OutboundMessage{
		OrganizationID: strings.TrimSpace(n.OrganizationID), ActionID: strings.TrimSpace(n.ActionID),
		HasSessionID:  n.SessionID.Nil != "true" && strings.TrimSpace(n.SessionID.Text) != "",
		EnterpriseURL: strings.TrimSpace(n.EnterpriseURL), PartnerURL: strings.TrimSpace(n.PartnerURL),
	}
	switch {
	case msg.OrganizationID == "":
		return nil, errors.New("outbound message without OrganizationId")
	case len(n.Notification) == 0:
		return nil, errors.New("outbound message without notifications")
	case len(n.Notification) > maxNotifications:
		return nil, fmt.Errorf("outbound message with %d notifications; Salesforce sends at most %d", len(n.Notification), maxNotifications)
	}
	seen := map[string]bool{}
	for i, sn := range n.Notification {
		id := strings.TrimSpace(sn.ID)
		if id == "" {
			return nil, fmt.Errorf("notification %d without an Id", i+1)
		}
		if len(id) > maxIDLen {
			return nil, fmt.Errorf("notification %d: Id longer than %d characters", i+1, maxIDLen)
		}
		if seen[id] {
			return nil, fmt.Errorf("notification id %s appears twice in one message", id)
		}
		seen[id] = true
		note := Notification{ID: id, Fields: map[string]any{}}
		if sn.SObject != nil {
			_, typ, _ := strings.Cut(sn.SObject.Type, ":")
			if typ == "" {
				typ = sn.SObject.Type
			}
			note.Object = strings.TrimSpace(typ)
			for _, f := range sn.SObject.Fields {
				putSOAPField(note.Fields, "", f)
			}
			if id, ok := note.Fields["Id"].(string); ok {
				note.RecordID = id
				delete(note.Fields, "Id")
			}
		}
		msg.Notifications = append(msg.Notifications, note)
	}
	return msg, nil
}

// putSOAPField stores one sObject field; a field with child elements (a
// compound or related record) is flattened with dots, like the streaming
// source's envelopes.
func putSOAPField(out map[string]any, prefix string, f soapField) {
	name := f.XMLName.Local
	if prefix != "" {
		name = prefix + "." + name
	}
	switch {
	case len(f.Nested) > 0:
		for _, c := range f.Nested {
			putSOAPField(out, name, c)
		}
	case f.Nil == "true":
		out[name] = nil
	default:
		out[name] = f.Text
	}
}

// decodeNoDTD decodes the document into v, refusing DOCTYPE declarations.
func decodeNoDTD(dec *xml.Decoder, v any) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("malformed XML: no SOAP envelope")
			}
			return fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("malformed XML: DOCTYPE declarations are not accepted")
		case xml.StartElement:
			if err := dec.DecodeElement(v, &t); err != nil {
				return fmt.Errorf("malformed XML: %w", err)
			}
			// Nothing but whitespace, comments and processing instructions
			// may follow the envelope.
			for {
				tok, err := dec.Token()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("malformed XML after the envelope: %w", err)
				}
				switch t := tok.(type) {
				case xml.CharData:
					if len(bytes.TrimSpace(t)) != 0 {
						return errors.New("malformed XML: text after the envelope")
					}
				case xml.Comment, xml.ProcInst:
				default:
					return errors.New("malformed XML: content after the envelope")
				}
			}
		}
	}
}

// ackEnvelope is the response that tells Salesforce every notification of
// the message arrived.
const ackEnvelope = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>
`

// faultEnvelope returns a SOAP 1.1 fault; client says whether the fault is
// the sender's (soapenv:Client) or ours (soapenv:Server).
func faultEnvelope(client bool, msg string) []byte {
	code := "soapenv:Server"
	if client {
		code = "soapenv:Client"
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>`)
	b.WriteString(code)
	b.WriteString(`</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>` + "\n")
	return b.Bytes()
}
