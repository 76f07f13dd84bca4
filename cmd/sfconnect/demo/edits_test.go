package demo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// fakeOrg records the page's Salesforce edits.
type fakeOrg struct {
	updates []map[string]any
	fail    error
}

func (f *fakeOrg) Records(string) ([]map[string]any, error) { return nil, nil }
func (f *fakeOrg) APIUsage() (int, int)                     { return 5, 1000 }
func (f *fakeOrg) Update(object, id string, fields map[string]any) error {
	if f.fail != nil {
		return f.fail
	}
	f.updates = append(f.updates, map[string]any{"object": object, "id": id, "fields": fields})
	return nil
}

func post(t *testing.T, h http.Handler, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	return rec
}

// TestEditWebApp_PublishesAnEnvelopeTheSinkAccepts: the web-app form's
// edit lands on the web-app topic, keyed by the record Id, as an envelope
// the Salesforce sink's own decoder accepts, with the form's values mapped
// to web-app field names.
func TestEditWebApp_PublishesAnEnvelopeTheSinkAccepts(t *testing.T) {
	c := kafkatest.NewFake(t)
	c.CreateTopic(t, "webapp.changes", 1, nil)
	s := New(Deps{Salesforce: &fakeOrg{}, Producer: c.Client(t), WebAppTopic: "webapp.changes"})
	before := time.Now().Truncate(time.Millisecond)
	if rec := post(t, s.Handler(), "/api/webapp", `{"id":"001000000000001AAA","name":"Acme","city":"Oslo"}`); rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	cl := c.Client(t, kgo.ConsumeTopics("webapp.changes"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) == 0 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	if len(got) != 1 {
		t.Fatalf("read %d records, want 1", len(got))
	}
	if string(got[0].Key) != "001000000000001AAA" {
		t.Errorf("key %q", got[0].Key)
	}
	chg, err := sfsink.JSONDecoder{}.Decode(got[0].Value)
	if err != nil {
		t.Fatalf("the sink rejects the envelope %s: %v", got[0].Value, err)
	}
	if chg.Object != "customer" || chg.Operation != "UPDATE" || chg.RecordID != "001000000000001AAA" ||
		chg.Fields["name"] != "Acme" || chg.Fields["city"] != "Oslo" || len(chg.Fields) != 2 || chg.IdempotencyKey == "" ||
		chg.ChangedAt.Before(before) {
		t.Errorf("change %+v", chg)
	}
}

// TestEditSalesforce: the Salesforce form's edit updates the org with
// Salesforce field names, only the fields given.
func TestEditSalesforce(t *testing.T) {
	org := &fakeOrg{}
	s := New(Deps{Salesforce: org})
	if rec := post(t, s.Handler(), "/api/salesforce", `{"id":"001000000000001AAA","name":"Acme"}`); rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if len(org.updates) != 1 || org.updates[0]["id"] != "001000000000001AAA" ||
		len(org.updates[0]["fields"].(map[string]any)) != 1 || org.updates[0]["fields"].(map[string]any)["Name"] != "Acme" {
		t.Errorf("updates %v", org.updates)
	}
	org.fail = errors.New("FIELD_CUSTOM_VALIDATION_EXCEPTION: no")
	if rec := post(t, s.Handler(), "/api/salesforce", `{"id":"001000000000001AAA","name":"Acme"}`); rec.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(rec.Body.String(), "FIELD_CUSTOM_VALIDATION_EXCEPTION") {
		t.Errorf("refused edit: status %d: %s", rec.Code, rec.Body)
	}
}

// TestEdit_BadInput: malformed or incomplete edits are refused with a
// reason, and nothing is written anywhere.
func TestEdit_BadInput(t *testing.T) {
	org := &fakeOrg{}
	s := New(Deps{Salesforce: org}) // no producer: publishing would panic
	for _, body := range []string{``, `{`, `[]`, `{"id":"x"}`, `{"name":"a"}`, `{"id":"x","name":"a","extra":1}`, `{"id":" ","city":"b"}`,
		`{"id":"x","name":"` + strings.Repeat("a", maxEditBody) + `"}`} {
		for _, path := range []string{"/api/salesforce", "/api/webapp"} {
			if rec := post(t, s.Handler(), path, body); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "bad edit") {
				t.Errorf("%s %.40q: status %d: %s", path, body, rec.Code, rec.Body)
			}
		}
	}
	if len(org.updates) != 0 {
		t.Errorf("updates %v", org.updates)
	}
}
