package ingest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// apexSerialized is what Apex JSON.serialize(new List<Account>{…}) writes.
const apexSerialized = `[{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/0018a000000001AAA0"},"Id":"0018a000000001AAA0","Name":"Acme","NumberOfEmployees":12,"AnnualRevenue":1.5e6,"IsActive__c":true,"Owner":{"attributes":{"type":"User"},"Name":"Ada"},"Phone":null},
 {"attributes":{"type":"Account"},"Id":"0018a000000002AAA0","Name":"Globex"}]`

func TestParseWebhook_ApexSerializedArray(t *testing.T) {
	t.Parallel()
	evs, err := ParseWebhook([]byte(apexSerialized), "job-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID != "job-1/0" || evs[1].ID != "job-1/1" {
		t.Fatalf("events = %+v", evs)
	}
	e := evs[0]
	if e.Object != "Account" || e.RecordID != "0018a000000001AAA0" || e.ChangeType != "UPSERT" ||
		e.Fields["Name"] != "Acme" || e.Fields["NumberOfEmployees"] != int64(12) || e.Fields["AnnualRevenue"] != 1.5e6 ||
		e.Fields["IsActive__c"] != true || e.Fields["Owner.Name"] != "Ada" || e.Fields["Phone"] != nil {
		t.Fatalf("event = %+v", e)
	}
	if _, ok := e.Fields["attributes"]; ok {
		t.Fatal("attributes must not be a field")
	}
	if _, ok := e.Fields["Owner.attributes.type"]; ok {
		t.Fatal("nested attributes must not be a field")
	}
}

func TestParseWebhook_WrapperAndSingle(t *testing.T) {
	t.Parallel()
	evs, err := ParseWebhook([]byte(`{"id":"evt-9","changeType":"delete","sObject":{"attributes":{"type":"Contact"},"Id":"0038a000000001A"}}`), "ignored", 1)
	if err != nil || len(evs) != 1 || evs[0].ID != "evt-9" || evs[0].ChangeType != "DELETE" || evs[0].Object != "Contact" {
		t.Fatalf("%+v %v", evs, err)
	}
	evs, err = ParseWebhook([]byte(`{"attributes":{"type":"Contact"},"Id":"0038a000000001A"}`), "key-7", 1)
	if err != nil || evs[0].ID != "key-7" {
		t.Fatalf("%+v %v", evs, err)
	}
	evs, err = ParseWebhook([]byte(`{"attributes":{"type":"Contact"},"Id":"0038a000000001A"}`), "", 1)
	if err != nil || evs[0].ID != "" {
		t.Fatalf("without a key the event has no id: %+v %v", evs, err)
	}
}

func TestParseWebhook_Errors(t *testing.T) {
	t.Parallel()
	ok := `{"attributes":{"type":"Account"},"Id":"0018a000000001AAA0"}`
	cases := []struct{ name, body, want string }{
		{"empty", "  ", "empty body"},
		{"truncated", ok[:20], "malformed JSON"},
		{"trailing", ok + ok, "after the first value"},
		{"empty array", "[]", "empty event array"},
		{"too many", "[" + strings.Repeat(ok+",", 3) + ok + "]", "at most 3"},
		{"scalar", `"x"`, "malformed JSON"},
		{"null", `null`, "JSON object"},
		{"no type", `{"Id":"0018a000000001AAA0"}`, "attributes"},
		{"bad id", `{"attributes":{"type":"Account"},"Id":"00!"}`, "valid \"Id\""},
		{"id not string", `{"attributes":{"type":"Account"},"Id":5}`, "valid \"Id\""},
		{"wrapper sObject not object", `{"sObject":[]}`, `"sObject" must be an object`},
		{"wrapper bad id", `{"id":5,"sObject":` + ok + `}`, `"id" must be`},
		{"wrapper bad change type", `{"changeType":"","sObject":` + ok + `}`, `"changeType" must be`},
		{"repeated ids", `[{"id":"a","sObject":` + ok + `},{"id":"a","sObject":` + ok + `}]`, "appears twice"},
		{"array element", `[` + ok + `,1]`, "event 2"},
		{"long id", `{"id":"` + strings.Repeat("x", 256) + `","sObject":` + ok + `}`, "at most 255"},
	}
	for _, tc := range cases {
		_, err := ParseWebhook([]byte(tc.body), "", 3)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParseWebhook: whatever the bytes and key, ParseWebhook returns
// events or an error, never panics, and every event it returns has an
// object, a valid record id and fields. Seeds: testdata/fuzz/FuzzParseWebhook
// and the Apex payloads above.
func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(apexSerialized), "job-1")
	f.Add([]byte(`{"id":"e","changeType":"UPDATE","sObject":{"attributes":{"type":"Contact"},"Id":"0038a000000001A","A":{"B":[1,{"c":2}]}}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		evs, err := ParseWebhook(body, key, 50)
		if err != nil {
			return
		}
		if len(evs) == 0 || len(evs) > 50 {
			t.Fatalf("%d events", len(evs))
		}
		for _, e := range evs {
			if e.Object == "" || !validRecordID(e.RecordID) || e.Fields == nil || e.ChangeType == "" {
				t.Fatalf("accepted an invalid event: %+v", e)
			}
		}
	})
}
