package ingest

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

func fastRetry() sfsim.RetryPolicy {
	return sfsim.RetryPolicy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, Timeout: 30 * time.Second}
}

func waitIdle(t testing.TB, w interface{ WaitIdle(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := w.WaitIdle(ctx); err != nil {
		t.Fatalf("sender not idle: %v", err)
	}
}

// TestIngest_OutboundMessages_FromSfsim: sfsim's Outbound Message sender
// delivers notifications of 120 Accounts (some in one transaction, so
// messages of up to 100) to the ingest source; every message is
// acknowledged, and each Account is in Kafka exactly once, keyed by its
// Id, as an OUTBOUND_MESSAGE envelope with the record's fields and the
// notification headers, with one dedup record per notification.
func TestIngest_OutboundMessages_FromSfsim(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		for _, mode := range []connectorlib.DeliveryMode{connectorlib.DeliveryExactlyOnce, connectorlib.DeliveryAtLeastOnce} {
			t.Run(string(mode), func(t *testing.T) {
				base := kafkatest.Topic(t, "ingest")
				h := startIngest(t, c, testConfig(base), "om-"+string(mode), mode)
				sim, err := sfsim.New()
				if err != nil {
					t.Fatal(err)
				}
				defer sim.Close()
				om, err := sim.AddOutboundMessage(sfsim.OutboundMessage{Name: "AccountSync", Object: "Account",
					Fields: []string{"Name", "Industry", "NumberOfEmployees"}, EndpointURL: h.outboundURL(), Retry: fastRetry()})
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{}
				err = sim.Transaction(func(tx *sfsim.Tx) error {
					for i := range 100 {
						id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprint("bulk ", i), "NumberOfEmployees": i})
						if err != nil {
							return err
						}
						want[id] = fmt.Sprint("bulk ", i)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 20 {
					id, err := sim.Create("Account", map[string]any{"Name": fmt.Sprint("single ", i), "Industry": "Energy"})
					if err != nil {
						t.Fatal(err)
					}
					want[id] = fmt.Sprint("single ", i)
				}
				waitIdle(t, om)
				if st := om.Stats(); st.Delivered != 120 || st.Dropped != 0 || st.Failures != 0 {
					t.Fatalf("sender stats %+v; want 120 delivered on first attempts", st)
				}
				recs := readTopics(t, c, base+".Account")
				if len(recs) != 120 {
					t.Fatalf("%d records in Kafka, want 120", len(recs))
				}
				notes := map[string]bool{}
				for _, r := range recs {
					e := r.env
					if want[r.key] == "" || e.Kind != KindOutboundMessage || e.Entity != "Account" || e.RecordID == nil ||
						*e.RecordID != r.key || e.Fields["Name"] != want[r.key] || e.ChangeType != changeNotification {
						t.Fatalf("record %s: %+v", r.key, e)
					}
					if r.headers[HeaderOrigin] != EndpointOutbound || r.headers[HeaderOrganizationID] != sfsim.DefaultOrgID ||
						r.headers[HeaderActionID] != om.ActionID() || r.headers[HeaderDuplicate] != "" {
						t.Fatalf("record %s headers %v", r.key, r.headers)
					}
					notes[r.headers[HeaderNotificationID]] = true
					delete(want, r.key)
				}
				if len(want) != 0 || len(notes) != 120 {
					t.Fatalf("%d accounts missing, %d distinct notification ids", len(want), len(notes))
				}
				if d := readTopics(t, c, base+".dedup"); len(d) != 120 {
					t.Fatalf("%d dedup records, want 120", len(d))
				}
			})
		}
	})
}

// TestIngest_Webhooks_FromSfsim: sfsim's webhook emitter (HMAC-signed
// callouts of Contacts, retried with the same Idempotency-Key) delivers 30
// transactions; each Contact is in Kafka once as a WEBHOOK envelope.
func TestIngest_Webhooks_FromSfsim(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		base := kafkatest.Topic(t, "ingest")
		h := startIngest(t, c, testConfig(base), "wh", connectorlib.DeliveryExactlyOnce)
		sim, err := sfsim.New()
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		wh, err := sim.AddWebhook(sfsim.Webhook{Name: "ContactHook", Object: "Contact", URL: h.srv.URL() + "/webhook",
			HMACSecret: []byte(testSecret), Retry: fastRetry()})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for i := range 30 {
			err := sim.Transaction(func(tx *sfsim.Tx) error {
				for j := range 2 {
					id, err := tx.Create("Contact", map[string]any{"LastName": fmt.Sprintf("c%d-%d", i, j)})
					if err != nil {
						return err
					}
					ids[id] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		waitIdle(t, wh)
		if st := wh.Stats(); st.Delivered != 30 || st.Failures != 0 {
			t.Fatalf("emitter stats %+v", st)
		}
		recs := readTopics(t, c, base+".Contact")
		if len(recs) != 60 {
			t.Fatalf("%d records, want 60", len(recs))
		}
		for _, r := range recs {
			if !ids[r.key] || r.env.Kind != KindWebhook || r.env.ChangeType != "CREATE" || r.env.Fields["LastName"] == nil ||
				r.headers[HeaderNotificationID] == "" || r.env.EventUUID == nil {
				t.Fatalf("record %s: %+v %v", r.key, r.env, r.headers)
			}
			delete(ids, r.key)
		}
		if len(ids) != 0 {
			t.Fatalf("%d contacts missing", len(ids))
		}
	})
}

// outboundBody renders an Outbound Message with the given notification
// ids, one Account each (record ids derived from the notification ids).
func outboundBody(org string, noteIDs ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">`)
	fmt.Fprintf(&b, `<OrganizationId>%s</OrganizationId><ActionId>04k8a0000000001AAA</ActionId><SessionId xsi:nil="true"/>`, org)
	for _, id := range noteIDs {
		fmt.Fprintf(&b, `<Notification><Id>%s</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>001%s</sf:Id><sf:Name>n %s</sf:Name></sObject></Notification>`, id, id[3:], id)
	}
	b.WriteString(`</notifications></soapenv:Body></soapenv:Envelope>`)
	return []byte(b.String())
}

// TestIngest_Duplicates: a retried Outbound Message (same notification
// ids), also after a restart of the source, is written once in
// exactly_once and written again with sfconnect.duplicate in
// at_least_once; a message mixing a seen and a new notification writes
// the new one.
func TestIngest_Duplicates(t *testing.T) {
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		for _, mode := range []connectorlib.DeliveryMode{connectorlib.DeliveryExactlyOnce, connectorlib.DeliveryAtLeastOnce} {
			t.Run(string(mode), func(t *testing.T) {
				base := kafkatest.Topic(t, "ingest")
				cfg := testConfig(base)
				name := "dup-" + string(mode)
				h := startIngest(t, c, cfg, name, mode)
				first := outboundBody(sfsim.DefaultOrgID, "04l8a0000000001", "04l8a0000000002")
				for range 2 {
					if code, body := h.post(EndpointOutbound, first, nil); code != 200 || !strings.Contains(body, "<Ack>true</Ack>") {
						t.Fatalf("post: %d %s", code, body)
					}
				}
				h.close()
				// A new process: the ids seen come back from the dedup topic.
				h = startIngest(t, c, cfg, name, mode)
				for _, body := range [][]byte{first, outboundBody(sfsim.DefaultOrgID, "04l8a0000000002", "04l8a0000000003")} {
					if code, reply := h.post(EndpointOutbound, body, nil); code != 200 {
						t.Fatalf("post after restart: %d %s", code, reply)
					}
				}
				h.close()
				recs := readTopics(t, c, base+".Account")
				count := map[string]int{}
				flagged := 0
				for _, r := range recs {
					count[r.headers[HeaderNotificationID]]++
					if r.headers[HeaderDuplicate] == "true" {
						flagged++
					}
				}
				if mode == connectorlib.DeliveryExactlyOnce {
					if len(recs) != 3 || count["04l8a0000000001"] != 1 || count["04l8a0000000002"] != 1 || count["04l8a0000000003"] != 1 || flagged != 0 {
						t.Fatalf("exactly_once: %d records %v, %d flagged; want each notification once", len(recs), count, flagged)
					}
					return
				}
				// at_least_once: 2 + 2 (retry) + 2 (retry after restart) + 1 seen + 1 new.
				if len(recs) != 8 || flagged != 5 || count["04l8a0000000003"] != 1 {
					t.Fatalf("at_least_once: %d records %v, %d flagged; want 8 with 5 flagged", len(recs), count, flagged)
				}
			})
		}
	})
}

// TestIngest_Rejects: bad requests get a 4xx with a clear message and
// nothing reaches Kafka; the one good request after them is the only
// record.
func TestIngest_Rejects(t *testing.T) {
	c := kafkatest.NewFake(t)
	base := kafkatest.Topic(t, "ingest")
	cfg := testConfig(base)
	cfg.MaxBodyBytes = 4096
	h := startIngest(t, c, cfg, "rejects", connectorlib.DeliveryExactlyOnce)
	good := outboundBody(sfsim.DefaultOrgID, "04l8a0000000009")
	goodJSON := []byte(`{"id":"e1","changeType":"UPDATE","sObject":{"attributes":{"type":"Contact"},"Id":"0038a000000001AAA0","LastName":"X"}}`)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name     string
		endpoint string
		body     []byte
		hdr      http.Header
		want     int
		wantMsg  string
	}{
		{"wrong secret", EndpointOutbound, good, hdr("X-Sfconnect-Secret", "wrong-secret-0123456789"), 401, "wrong shared secret"},
		{"bad signature", EndpointWebhook, goodJSON, hdr("X-Sfconnect-Signature", "sha256=00"), 401, "signature does not match"},
		{"no signature", EndpointWebhook, goodJSON, hdr("X-Sfconnect-Signature", ""), 401, "authentication required"},
		{"content type", EndpointWebhook, goodJSON, hdr("Content-Type", "text/plain"), 415, "application/json"},
		{"soap as json", EndpointOutbound, good, hdr("Content-Type", "application/json"), 415, "text/xml"},
		{"oversized", EndpointOutbound, []byte(strings.Repeat(" ", 5000)), nil, 413, "larger than 4096"},
		{"malformed xml", EndpointOutbound, []byte("<soapenv:Envelope"), nil, 400, "malformed XML"},
		{"malformed json", EndpointWebhook, []byte(`{"id":`), nil, 400, "malformed JSON"},
		{"not an sobject", EndpointWebhook, []byte(`{"Id":"0038a000000001AAA0"}`), nil, 400, "attributes"},
		{"foreign org", EndpointOutbound, outboundBody("00D8a00000OTHERAAA", "04l8a0000000009"), nil, 403, "organization id"},
		{"unknown object", EndpointWebhook, []byte(`{"attributes":{"type":"Lead"},"Id":"00Q8a000000001AAA0"}`), nil, 422, "object Lead"},
		{"object name with slashes", EndpointWebhook, []byte(`{"attributes":{"type":"../x"},"Id":"00Q8a000000001AAA0"}`), nil, 422, "not accepted"},
		{"empty message", EndpointOutbound, outboundBody(sfsim.DefaultOrgID), nil, 400, "without notifications"},
	}
	for _, tc := range cases {
		code, body := h.post(tc.endpoint, tc.body, tc.hdr)
		if code != tc.want || !strings.Contains(body, tc.wantMsg) {
			t.Errorf("%s: %d %s; want %d with %q", tc.name, code, body, tc.want, tc.wantMsg)
		}
		if tc.endpoint == EndpointOutbound && !strings.Contains(body, "soapenv:Fault") {
			t.Errorf("%s: outbound error is not a SOAP fault: %s", tc.name, body)
		}
		if strings.Contains(body, testSecret) {
			t.Errorf("%s: reply echoes the secret", tc.name)
		}
	}
	resp, err := http.Get(h.srv.URL() + "/webhook")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	if code, body := h.post(EndpointOutbound, good, nil); code != 200 {
		t.Fatalf("good request: %d %s", code, body)
	}
	h.close()
	recs := readTopics(t, c, base+".Account", base+".dedup")
	if len(recs) != 2 {
		t.Fatalf("%d records in Kafka (Account + dedup), want 2: the rejected requests wrote something", len(recs))
	}
	m := h.rc.deps.Metrics
	var reasons []string
	for _, r := range []string{reasonUnauth, reasonContentType, reasonTooLarge, reasonMalformed, reasonOrganization, reasonUnknownObject, reasonMethod} {
		if counterValue(t, m.Rejects.WithLabelValues("rejects", EndpointOutbound, r))+counterValue(t, m.Rejects.WithLabelValues("rejects", EndpointWebhook, r)) == 0 {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) > 0 {
		sort.Strings(reasons)
		t.Fatalf("reject reasons not counted: %v", reasons)
	}
}

// TestIngest_RateLimit: beyond the burst, requests get 429 with
// Retry-After, before any parsing.
func TestIngest_RateLimit(t *testing.T) {
	c := kafkatest.NewFake(t)
	base := kafkatest.Topic(t, "ingest")
	cfg := testConfig(base)
	cfg.RateLimit, cfg.RateBurst = 0.5, 2
	h := startIngest(t, c, cfg, "rate", connectorlib.DeliveryExactlyOnce)
	var codes []int
	for range 4 {
		code, _ := h.post(EndpointWebhook, []byte(`{`), nil)
		codes = append(codes, code)
	}
	if codes[0] != 400 || codes[1] != 400 || codes[2] != 429 || codes[3] != 429 {
		t.Fatalf("codes %v; want 400 400 429 429", codes)
	}
}
