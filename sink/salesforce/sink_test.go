package salesforce_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// TestSink_Write_UpsertUpdateDelete writes Accounts and Contacts through
// upserts, updates (by external id and by Id) and deletes, and checks the
// org after each step.
func TestSink_Write_UpsertUpdateDelete(t *testing.T) {
	e := newEnv(t, baseConfig())
	t0 := time.Now()
	// Step 1: create 3 Accounts and 2 Contacts by external id.
	err := e.write(t, records(t, "webapp",
		upsert("customer", "c1", map[string]any{"name": "Acme", "phone": "111"}, t0),
		upsert("customer", "c2", map[string]any{"name": "Globex", "city": "Paris"}, t0),
		upsert("customer", "c3", map[string]any{"name": "Initech", "employees": 42}, t0),
		upsert("person", "p1", map[string]any{"first": "Ada", "last": "Lovelace", "email": "ada@example.com"}, t0),
		upsert("person", "p2", map[string]any{"last": "Hopper"}, t0),
	))
	if err != nil {
		t.Fatalf("Write (create): %v", err)
	}
	acc := byExternalID(t, e.sim, "Account")
	con := byExternalID(t, e.sim, "Contact")
	if len(acc) != 3 || len(con) != 2 {
		t.Fatalf("org holds %d Accounts and %d Contacts; want 3 and 2", len(acc), len(con))
	}
	if acc["c1"]["Name"] != "Acme" || acc["c1"]["Phone"] != "111" || acc["c2"]["BillingCity"] != "Paris" {
		t.Errorf("Accounts after create: c1=%v c2=%v", acc["c1"], acc["c2"])
	}
	if fmt.Sprint(acc["c3"]["NumberOfEmployees"]) != "42" {
		t.Errorf("c3 NumberOfEmployees = %v; want 42", acc["c3"]["NumberOfEmployees"])
	}
	if con["p1"]["Email"] != "ada@example.com" || con["p2"]["LastName"] != "Hopper" {
		t.Errorf("Contacts after create: p1=%v p2=%v", con["p1"], con["p2"])
	}

	// Step 2: update c1 by external id, c2 by its Salesforce Id, upsert p1
	// again (an update of an existing record), null c3's employees.
	t1 := t0.Add(time.Second)
	byID := update("customer", "", map[string]any{"city": "Lyon"}, t1)
	delete(byID, "external_id")
	byID["record_id"] = acc["c2"]["Id"]
	err = e.write(t, records(t, "webapp",
		update("customer", "c1", map[string]any{"phone": "222"}, t1),
		byID,
		upsert("person", "p1", map[string]any{"email": "ada@lovelace.org"}, t1),
		update("customer", "c3", map[string]any{"employees": nil}, t1),
	))
	if err != nil {
		t.Fatalf("Write (update): %v", err)
	}
	acc = byExternalID(t, e.sim, "Account")
	con = byExternalID(t, e.sim, "Contact")
	if acc["c1"]["Phone"] != "222" || acc["c1"]["Name"] != "Acme" {
		t.Errorf("c1 after update: %v", acc["c1"])
	}
	if acc["c2"]["BillingCity"] != "Lyon" {
		t.Errorf("c2 (updated by Id) BillingCity = %v; want Lyon", acc["c2"]["BillingCity"])
	}
	if acc["c3"]["NumberOfEmployees"] != nil {
		t.Errorf("c3 NumberOfEmployees = %v; want null", acc["c3"]["NumberOfEmployees"])
	}
	if con["p1"]["Email"] != "ada@lovelace.org" || con["p1"]["FirstName"] != "Ada" || len(con) != 2 {
		t.Errorf("p1 after upsert: %v (%d Contacts)", con["p1"], len(con))
	}

	// Step 3: delete c2 and p2; deleting p2 again (a retried batch) is not
	// an error.
	t2 := t1.Add(time.Second)
	if err := e.write(t, records(t, "webapp", del("customer", "c2", t2), del("person", "p2", t2))); err != nil {
		t.Fatalf("Write (delete): %v", err)
	}
	if err := e.write(t, records(t, "webapp", del("person", "p2", t2))); err != nil {
		t.Fatalf("Write (delete again): %v", err)
	}
	acc = byExternalID(t, e.sim, "Account")
	con = byExternalID(t, e.sim, "Contact")
	if _, ok := acc["c2"]; ok || len(acc) != 2 {
		t.Errorf("Accounts after delete: %v", slices.Sorted(maps.Keys(acc)))
	}
	if _, ok := con["p2"]; ok || len(con) != 1 {
		t.Errorf("Contacts after delete: %v", slices.Sorted(maps.Keys(con)))
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_records_written_total", "object=Account", "operation=upsert"); got != 3 {
		t.Errorf("records_written{Account,upsert} = %v; want 3", got)
	}
}

// metric returns the sum of the samples of metric name in e's registry
// whose labels include want (label=value pairs).
func metric(t testing.TB, e *env, name string, want ...string) float64 {
	t.Helper()
	fams, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for _, kv := range want {
				k, v, _ := strings.Cut(kv, "=")
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestSink_Write_OneValidationFailureIn200 writes 200 new Accounts, one of
// which a validation rule rejects: Write reports exactly that index with a
// permanent error carrying Salesforce's statusCode and message, and the
// org holds the other 199.
func TestSink_Write_OneValidationFailureIn200(t *testing.T) {
	e := newEnv(t, baseConfig())
	const bad = 137
	e.sim.AddValidationRule("Account", "Phone", "Phone must not be 000", func(r map[string]any) bool { return r["Phone"] == "000" })
	t0 := time.Now()
	changes := make([]ch, 200)
	for i := range changes {
		phone := fmt.Sprintf("555-%04d", i)
		if i == bad {
			phone = "000"
		}
		changes[i] = upsert("customer", fmt.Sprintf("v%03d", i), map[string]any{"name": fmt.Sprintf("Account %d", i), "phone": phone}, t0)
	}
	before := e.apiUsed()
	err := e.write(t, records(t, "webapp", changes...))
	var be *connectorlib.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write returned %v; want a *BatchError naming index %d", err, bad)
	}
	if got := slices.Sorted(maps.Keys(be.Failed)); !slices.Equal(got, []int{bad}) {
		t.Fatalf("BatchError names %v; want [%d]", got, bad)
	}
	ferr := be.Failed[bad]
	if connectorlib.IsRetryable(ferr) {
		t.Errorf("the validation failure is retryable: %v", ferr)
	}
	if code := connectorlib.Code(ferr); code != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
		t.Errorf("error code %q; want FIELD_CUSTOM_VALIDATION_EXCEPTION", code)
	}
	if !strings.Contains(ferr.Error(), "Phone must not be 000") {
		t.Errorf("error %q does not carry Salesforce's message", ferr)
	}
	acc := byExternalID(t, e.sim, "Account")
	if len(acc) != 199 {
		t.Errorf("org holds %d Accounts; want 199", len(acc))
	}
	if _, ok := acc[fmt.Sprintf("v%03d", bad)]; ok {
		t.Errorf("the rejected Account is in the org")
	}
	// One lookup query and one collection write of 200 records.
	if calls := e.apiUsed() - before; calls != 2 {
		t.Errorf("the batch took %d API requests; want 2 (one lookup, one 200-record upsert)", calls)
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_dead_letters_total", "code=FIELD_CUSTOM_VALIDATION_EXCEPTION"); got != 1 {
		t.Errorf("dead_letters{FIELD_CUSTOM_VALIDATION_EXCEPTION} = %v; want 1", got)
	}
}

// TestSink_Write_UnmappedAndMalformed checks that bad input is refused per
// record, permanently, with a reason, and the rest is written.
func TestSink_Write_UnmappedAndMalformed(t *testing.T) {
	e := newEnv(t, baseConfig())
	t0 := time.Now()
	batch := records(t, "webapp",
		upsert("customer", "ok1", map[string]any{"name": "Good"}, t0),
		upsert("customer", "bad1", map[string]any{"name": "X", "shoe_size": 44}, t0), // unmapped field
		upsert("invoice", "bad2", map[string]any{"name": "X"}, t0),                   // unmapped type
		upsert("customer", "ok2", map[string]any{"name": "Also good"}, t0),
	)
	batch = append(batch, connectorlib.Record{Topic: "webapp", Offset: 4, Key: []byte("x"), Value: []byte("{not json")},
		connectorlib.Record{Topic: "webapp", Offset: 5, Key: []byte("y"), Value: []byte(`{"envelope_version":2,"object":"customer","operation":"UPSERT","external_id":"v2","changed_at":1,"idempotency_key":"k"}`)},
		connectorlib.Record{Topic: "webapp", Offset: 6, Key: []byte("z")})
	err := e.write(t, batch)
	var be *connectorlib.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write returned %v; want a *BatchError", err)
	}
	want := map[int]string{1: sfsink.CodeUnmapped, 2: sfsink.CodeUnmapped, 4: sfsink.CodeDecode, 5: sfsink.CodeInvalid, 6: sfsink.CodeDecode}
	if got := slices.Sorted(maps.Keys(be.Failed)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("BatchError names %v; want %v", got, slices.Sorted(maps.Keys(want)))
	}
	for i, code := range want {
		if got := connectorlib.Code(be.Failed[i]); got != code || connectorlib.IsRetryable(be.Failed[i]) {
			t.Errorf("record %d: code %q (retryable %v): %v; want permanent %s", i, got, connectorlib.IsRetryable(be.Failed[i]), be.Failed[i], code)
		}
	}
	if !strings.Contains(be.Failed[1].Error(), "shoe_size") {
		t.Errorf("unmapped-field error %q does not name the field", be.Failed[1])
	}
	acc := byExternalID(t, e.sim, "Account")
	if len(acc) != 2 || acc["ok1"] == nil || acc["ok2"] == nil {
		t.Errorf("org holds %v; want ok1 and ok2", slices.Sorted(maps.Keys(acc)))
	}
}
