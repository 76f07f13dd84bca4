package cdc

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// jsonRoundTrip turns v into what a JSON client would see.
func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	d := json.NewDecoder(bytesReader(b))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCometDPayload_DocExample rebuilds the CREATE example of §2.4.
func TestCometDPayload_DocExample(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, docAccount())
	created := int64(1712694387000) // 2024-04-09T20:26:27.000Z
	ev := &ChangeEvent{
		Header: Header{
			EntityName: "Account", RecordIDs: []string{"0015f00002J9YaUAAV"}, ChangeType: ChangeTypeCreate,
			ChangeOrigin: "com/salesforce/api/soap/60.0;client=SfdcInternalAPI/", TransactionKey: "0001ae4b-7024-a64a-87f0-f2c8cebdca76",
			SequenceNumber: 1, CommitTimestamp: 1712694387000, CommitNumber: 1082990428293, CommitUser: "0055f000005mc66AAA",
		},
		Fields: map[string]any{
			"LastModifiedDate": created, "Description": "Sample account record.", "OwnerId": "0055f000005mc66AAA",
			"CreatedById": "0055f000005mc66AAA", "CreatedDate": created, "LastModifiedById": "0055f000005mc66AAA",
			"Name": "Acme", "Phone": nil, "BillingAddress": map[string]any{"City": nil},
		},
	}
	got, err := CometDPayload(ev, s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{
      "LastModifiedDate": "2024-04-09T20:26:27.000Z",
      "Description": "Sample account record.",
      "OwnerId": "0055f000005mc66AAA",
      "CreatedById": "0055f000005mc66AAA",
      "ChangeEventHeader": {
        "commitNumber": 1082990428293, "commitUser": "0055f000005mc66AAA", "sequenceNumber": 1,
        "entityName": "Account", "changeType": "CREATE", "changedFields": [],
        "changeOrigin": "com/salesforce/api/soap/60.0;client=SfdcInternalAPI/",
        "transactionKey": "0001ae4b-7024-a64a-87f0-f2c8cebdca76", "commitTimestamp": 1712694387000,
        "recordIds": ["0015f00002J9YaUAAV"]
      },
      "CreatedDate": "2024-04-09T20:26:27.000Z",
      "LastModifiedById": "0055f000005mc66AAA",
      "Name": "Acme"
    }`
	var wantV any
	d := json.NewDecoder(bytesReader([]byte(want)))
	d.UseNumber()
	if err := d.Decode(&wantV); err != nil {
		t.Fatal(err)
	}
	if gotV := jsonRoundTrip(t, got); !reflect.DeepEqual(gotV, wantV) {
		t.Fatalf("payload\n got %v\nwant %v", gotV, wantV)
	}
}

func TestCometDPayload_Update(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	h := header(t, s, []string{"MailingAddress.City", "MailingAddress.Street", "Birthdate", "Best_Time__c", "Email", "LastModifiedDate"}, []string{"Email"})
	diff, err := s.EncodeFields([]string{"MailingAddress.Street", "Tags__c"})
	if err != nil {
		t.Fatal(err)
	}
	h.DiffFields = diff
	ev := &ChangeEvent{Header: h, Fields: map[string]any{
		"MailingAddress":   map[string]any{"City": "Lyon", "Street": "--- \n+++ abc\n@@ -1 +1 @@\n-a\n+b", "Country": nil},
		"OtherAddress":     map[string]any{"City": nil},
		"Birthdate":        time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC).UnixMilli(),
		"Best_Time__c":     int64(9*3600*1000 + 30*60*1000 + 5),
		"Tags__c":          "--- \n+++ def\n",
		"Visits__c":        float64(4), // coerced as Encode would
		"Email":            nil,        // nulled: left out, still named in changedFields
		"LastModifiedDate": int64(1712694387123),
	}}
	got, err := CometDPayload(ev, s)
	if err != nil {
		t.Fatal(err)
	}
	hdr := got[HeaderField].(map[string]any)
	if _, ok := hdr["nulledFields"]; ok {
		t.Error("nulledFields present")
	}
	if _, ok := hdr["diffFields"]; ok {
		t.Error("diffFields present")
	}
	wantChanged := []string{"MailingAddress.Street", "MailingAddress.City", "Email", "Birthdate", "Best_Time__c", "LastModifiedDate"}
	if !reflect.DeepEqual(hdr["changedFields"], wantChanged) {
		t.Errorf("changedFields = %v, want %v", hdr["changedFields"], wantChanged)
	}
	delete(got, HeaderField)
	want := map[string]any{
		"MailingAddress":   map[string]any{"City": "Lyon", "Street": map[string]any{"diff": "--- \n+++ abc\n@@ -1 +1 @@\n-a\n+b"}},
		"Birthdate":        "1815-12-10",
		"Best_Time__c":     "09:30:00.005Z",
		"Tags__c":          map[string]any{"diff": "--- \n+++ def\n"},
		"Visits__c":        int32(4),
		"LastModifiedDate": "2024-04-09T20:26:27.123Z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("payload\n got %#v\nwant %#v", got, want)
	}
}

func TestCometDPayload_Errors(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	for name, ev := range map[string]*ChangeEvent{
		"nil event":       nil,
		"bad changed":     {Header: Header{ChangedFields: []string{"0x01"}}},
		"bad diff":        {Header: Header{DiffFields: []string{"zz"}}},
		"unknown field":   {Fields: map[string]any{"Nope": "x"}},
		"header field":    {Fields: map[string]any{HeaderField: "x"}},
		"bad value":       {Fields: map[string]any{"Visits__c": "x"}},
		"time out of day": {Fields: map[string]any{"Best_Time__c": int64(24 * 3600 * 1000)}},
		"bad component":   {Fields: map[string]any{"Geo__c": map[string]any{"Latitude": "north"}}},
	} {
		if _, err := CometDPayload(ev, s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := CometDPayload(&ChangeEvent{}, lowInk(t)); !errors.Is(err, ErrWrongKind) {
		t.Errorf("platform schema: %v", err)
	}
}
