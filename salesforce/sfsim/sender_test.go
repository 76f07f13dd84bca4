package sfsim_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// capture is a test receiver: it records every request and answers with
// what answer returns for the request's number (0-based).
type capture struct {
	mu     sync.Mutex
	bodies [][]byte
	hdrs   []http.Header
	answer func(n int, body []byte) (int, string)
	srv    *httptest.Server
}

func newCapture(t *testing.T, answer func(n int, body []byte) (int, string)) *capture {
	c := &capture{answer: answer}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		n := len(c.bodies)
		c.bodies = append(c.bodies, body)
		c.hdrs = append(c.hdrs, r.Header.Clone())
		c.mu.Unlock()
		status, reply := c.answer(n, body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

const soapAck = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>`

// omMessage is the part of an Outbound Message the tests check.
type omMessage struct {
	Body struct {
		Notifications struct {
			OrganizationID string `xml:"OrganizationId"`
			ActionID       string `xml:"ActionId"`
			Notification   []struct {
				ID      string `xml:"Id"`
				SObject struct {
					Type   string `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
					Fields []struct {
						XMLName xml.Name
						Nil     string `xml:"http://www.w3.org/2001/XMLSchema-instance nil,attr"`
						Text    string `xml:",chardata"`
					} `xml:",any"`
				} `xml:"sObject"`
			} `xml:"Notification"`
		} `xml:"http://soap.sforce.com/2005/09/outbound notifications"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

func fastRetry() sfsim.RetryPolicy {
	return sfsim.RetryPolicy{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, Timeout: 5 * time.Second}
}

func waitIdle(t *testing.T, w interface{ WaitIdle(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.WaitIdle(ctx); err != nil {
		t.Fatalf("sender not idle: %v", err)
	}
}

// TestOutbound_RetriesUntilAck: the receiver fails twice (a 500 and a 200
// without Ack true), then acknowledges. The sender retries the same
// notifications with growing delays, and the message carries the org, the
// action and the record's current field values.
func TestOutbound_RetriesUntilAck(t *testing.T) {
	t.Parallel()
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := newCapture(t, func(n int, _ []byte) (int, string) {
		switch n {
		case 0:
			return http.StatusInternalServerError, "boom"
		case 1:
			return http.StatusOK, "<ok/>" // not an Ack: must be retried
		}
		return http.StatusOK, soapAck
	})
	o, err := sim.AddOutboundMessage(sfsim.OutboundMessage{Name: "AccountSync", Object: "Account",
		Fields: []string{"Name", "Industry", "Phone"}, EndpointURL: c.srv.URL, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := sim.Create("Account", map[string]any{"Name": "Acme & Sons", "Industry": "Retail"})
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, o)
	ds := o.Deliveries()
	if len(ds) != 3 || ds[0].OK || ds[1].OK || !ds[2].OK || ds[0].Status != 500 || ds[1].Status != 200 {
		t.Fatalf("deliveries = %+v, want fail(500), fail(200 without Ack), ok", ds)
	}
	if !slices.Equal(ds[0].IDs, ds[2].IDs) || len(ds[0].IDs) != 1 || !strings.HasPrefix(ds[0].IDs[0], "04l") {
		t.Fatalf("retries must carry the same notification id: %v / %v", ds[0].IDs, ds[2].IDs)
	}
	if gap1, gap2 := ds[1].At.Sub(ds[0].At), ds[2].At.Sub(ds[1].At); gap1 < 20*time.Millisecond || gap2 < 40*time.Millisecond {
		t.Fatalf("retry delays %v, %v; want ≥20ms then ≥40ms (exponential)", gap1, gap2)
	}
	if st := o.Stats(); st.Queued != 1 || st.Delivered != 1 || st.Failures != 2 || st.Attempts != 3 || st.Pending != 0 {
		t.Fatalf("stats = %+v", st)
	}
	var m omMessage
	if err := xml.Unmarshal(c.bodies[2], &m); err != nil {
		t.Fatalf("message is not XML: %v\n%s", err, c.bodies[2])
	}
	n := m.Body.Notifications
	if n.OrganizationID != sfsim.DefaultOrgID || n.ActionID != o.ActionID() || len(n.Notification) != 1 {
		t.Fatalf("message header = %+v", n)
	}
	note := n.Notification[0]
	got := map[string]string{}
	for _, f := range note.SObject.Fields {
		got[f.XMLName.Local] = f.Text
		if f.Nil == "true" {
			got[f.XMLName.Local] = "<nil>"
		}
	}
	if note.ID != ds[0].IDs[0] || note.SObject.Type != "sf:Account" || got["Id"] != id || got["Name"] != "Acme & Sons" ||
		got["Industry"] != "Retail" || got["Phone"] != "<nil>" {
		t.Fatalf("notification = %s %s %v", note.ID, note.SObject.Type, got)
	}
	if h := c.hdrs[0]; h.Get("SOAPAction") == "" || !strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
		t.Fatalf("headers = %v", h)
	}
}

// TestOutbound_BatchesAndGivesUp: 250 records created in one transaction
// go out in messages of at most 100 notifications; against a receiver that
// never acknowledges, every notification is dropped once it is older than
// GiveUpAfter.
func TestOutbound_BatchesAndGivesUp(t *testing.T) {
	t.Parallel()
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c := newCapture(t, func(int, []byte) (int, string) { return http.StatusServiceUnavailable, "down" })
	retry := fastRetry()
	retry.GiveUpAfter = 300 * time.Millisecond
	o, err := sim.AddOutboundMessage(sfsim.OutboundMessage{Name: "Batch", Object: "Account", Fields: []string{"Name"},
		EndpointURL: c.srv.URL, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	err = sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range 250 {
			if _, err := tx.Create("Account", map[string]any{"Name": fmt.Sprint("a", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, o)
	seen := map[string]int{}
	for _, d := range o.Deliveries() {
		if len(d.IDs) > 100 {
			t.Fatalf("a message carried %d notifications", len(d.IDs))
		}
		for _, id := range d.IDs {
			seen[id]++
		}
	}
	st := o.Stats()
	if len(seen) != 250 || st.Dropped != 250 || st.Delivered != 0 {
		t.Fatalf("%d distinct notifications attempted, stats %+v; want 250 attempted and dropped", len(seen), st)
	}
	for id, n := range seen {
		if n < 2 {
			t.Fatalf("notification %s attempted %d times; want retries before giving up", id, n)
		}
	}
}

// TestWebhook_SignedCalloutsRetriedWithSameKey: a trigger's callouts are
// JSON arrays of wrapped serialized sObjects, signed with HMAC-SHA256 and
// retried under the same Idempotency-Key until the receiver accepts; a job
// is dropped after MaxAttempts.
func TestWebhook_SignedCalloutsRetriedWithSameKey(t *testing.T) {
	t.Parallel()
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	secret := []byte("webhook-secret-0123456789")
	c := newCapture(t, func(n int, _ []byte) (int, string) {
		if n == 0 {
			return http.StatusServiceUnavailable, "later"
		}
		return http.StatusOK, `{"accepted":1}`
	})
	wh, err := sim.AddWebhook(sfsim.Webhook{Name: "ContactHook", Object: "Contact", URL: c.srv.URL,
		HMACSecret: secret, Headers: map[string]string{"X-Org": "sim"}, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := sim.Create("Contact", map[string]any{"LastName": "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, wh)
	if len(c.bodies) != 2 || !bytesEqual(c.bodies[0], c.bodies[1]) {
		t.Fatalf("%d callouts; want 2 with the same body", len(c.bodies))
	}
	if k0, k1 := c.hdrs[0].Get("Idempotency-Key"), c.hdrs[1].Get("Idempotency-Key"); k0 == "" || k0 != k1 {
		t.Fatalf("Idempotency-Key %q then %q; want the same, set", k0, k1)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(c.bodies[1])
	if got := c.hdrs[1].Get("X-Sfconnect-Signature"); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("signature %q does not match the body", got)
	}
	if c.hdrs[1].Get("X-Org") != "sim" || c.hdrs[1].Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", c.hdrs[1])
	}
	var events []struct {
		ID         string         `json:"id"`
		ChangeType string         `json:"changeType"`
		SObject    map[string]any `json:"sObject"`
	}
	if err := json.Unmarshal(c.bodies[1], &events); err != nil || len(events) != 1 {
		t.Fatalf("body %s: %v", c.bodies[1], err)
	}
	ev := events[0]
	attrs, _ := ev.SObject["attributes"].(map[string]any)
	if ev.ID == "" || ev.ChangeType != "CREATE" || ev.SObject["Id"] != id || ev.SObject["LastName"] != "Lovelace" || attrs["type"] != "Contact" {
		t.Fatalf("event = %+v", ev)
	}

	// A receiver that never accepts: dropped after MaxAttempts.
	bad := newCapture(t, func(int, []byte) (int, string) { return http.StatusInternalServerError, "no" })
	wh2, err := sim.AddWebhook(sfsim.Webhook{Name: "Dropping", Object: "Lead", URL: bad.srv.URL, MaxAttempts: 3, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Create("Lead", map[string]any{"LastName": "X", "Company": "Y"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, wh2)
	if st := wh2.Stats(); st.Attempts != 3 || st.Dropped != 1 || st.Delivered != 0 {
		t.Fatalf("stats = %+v; want 3 attempts, dropped", st)
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// TestAdmin_Senders defines an Outbound Message and a webhook over the
// control API and reads their delivery counters back.
func TestAdmin_Senders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newCapture(t, func(int, []byte) (int, string) { return http.StatusOK, soapAck })
	e.adminJSON("POST", "/sim/outbound-messages", fmt.Sprintf(`{"name":"Om1","object":"Account","fields":["Name"],"endpointUrl":%q,"retry":{"initial":"20ms"}}`, c.srv.URL), http.StatusCreated, nil)
	e.adminJSON("POST", "/sim/webhooks", fmt.Sprintf(`{"name":"Wh1","object":"Account","url":%q,"hmacSecret":"s"}`, c.srv.URL), http.StatusCreated, nil)
	e.checkBad(t, []badInput{
		{name: "duplicate name", method: "POST", path: "/sim/outbound-messages", body: `{"name":"Om1","object":"Account","endpointUrl":"http://127.0.0.1:1"}`, want: http.StatusConflict},
		{name: "unknown object", method: "POST", path: "/sim/webhooks", body: `{"name":"Wh2","object":"Nope__c","url":"http://127.0.0.1:1"}`, want: http.StatusBadRequest},
		{name: "bad retry", method: "POST", path: "/sim/webhooks", body: `{"name":"Wh3","object":"Account","url":"http://127.0.0.1:1","retry":{"max":"soon"}}`, want: http.StatusBadRequest},
		{name: "unknown sender", method: "GET", path: "/sim/outbound-messages/Nope", want: http.StatusNotFound},
	})
	if _, err := e.sim.Create("Account", map[string]any{"Name": "Admin Co"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var om, wh struct {
			Stats sfsim.SenderStats `json:"stats"`
		}
		e.adminJSON("GET", "/sim/outbound-messages/Om1", "", http.StatusOK, &om)
		e.adminJSON("GET", "/sim/webhooks/Wh1", "", http.StatusOK, &wh)
		if om.Stats.Delivered == 1 && wh.Stats.Delivered == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbound %+v, webhook %+v; want one delivery each", om.Stats, wh.Stats)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutbound_SendsLatestData: a record changed while its notification
// waits for a retry is sent with its new values (Salesforce delivers the
// latest data, not the values at queue time).
func TestOutbound_SendsLatestData(t *testing.T) {
	t.Parallel()
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	firstSeen := make(chan struct{})
	updated := make(chan struct{})
	c := newCapture(t, func(n int, _ []byte) (int, string) {
		if n == 0 {
			close(firstSeen)
			<-updated // the update commits before the first attempt fails
			return http.StatusServiceUnavailable, "later"
		}
		return http.StatusOK, soapAck
	})
	o, err := sim.AddOutboundMessage(sfsim.OutboundMessage{Name: "Latest", Object: "Account", Fields: []string{"Name"},
		EndpointURL: c.srv.URL, Retry: fastRetry(),
		// Only creates fire, so the update below queues nothing itself.
		Criteria: func(changeType string, _ map[string]any) bool { return changeType == "CREATE" }})
	if err != nil {
		t.Fatal(err)
	}
	id, err := sim.Create("Account", map[string]any{"Name": "Before"})
	if err != nil {
		t.Fatal(err)
	}
	<-firstSeen
	if err := sim.Update("Account", id, map[string]any{"Name": "After"}); err != nil {
		t.Fatal(err)
	}
	close(updated)
	waitIdle(t, o)
	if st := o.Stats(); st.Queued != 1 || st.Delivered != 1 {
		t.Fatalf("stats %+v; want one notification (criteria skip the update)", st)
	}
	if !strings.Contains(string(c.bodies[0]), "<sf:Name>Before</sf:Name>") || !strings.Contains(string(c.bodies[1]), "<sf:Name>After</sf:Name>") {
		t.Fatalf("first attempt:\n%s\nretry:\n%s", c.bodies[0], c.bodies[1])
	}
}
