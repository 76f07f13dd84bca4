package salesforce_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
)

// TestClient_Collections upserts, updates and deletes through sObject
// Collections, alone and packed into one /composite request, and checks
// that every request, and every composite subrequest, carries the client
// id in Sforce-Call-Options.
func TestClient_Collections(t *testing.T) {
	e := newEnv(t, envOpts{client: salesforce.ClientConfig{APIVersion: "62.0", CallClientID: "sink-a"}})
	ctx := testContext(t)
	res, err := e.client.Collection(ctx, salesforce.UpsertCall("Account", "External_Id__c", []map[string]any{
		{"External_Id__c": "x1", "Name": "One"}, {"External_Id__c": "x2", "Name": "Two"},
	}))
	if err != nil {
		t.Fatalf("upsert: %v", err)
	}
	if len(res) != 2 || !res[0].Success || res[0].Created == nil || !*res[0].Created || res[0].ID == "" {
		t.Fatalf("upsert results %+v", res)
	}
	id1, id2 := res[0].ID, res[1].ID
	results, errs, err := e.client.CompositeCollections(ctx, []salesforce.CollectionCall{
		salesforce.UpdateCall("Account", []map[string]any{{"Id": id1, "Phone": "111"}, {"Id": "001000000000000AAA", "Phone": "x"}}),
		salesforce.DeleteCall([]string{id2}),
		salesforce.UpsertCall("Account", "No_Such_Field__c", []map[string]any{{"No_Such_Field__c": "x", "Name": "bad"}}),
	})
	if err != nil {
		t.Fatalf("composite: %v", err)
	}
	if errs[0] != nil || !results[0][0].Success || results[0][1].Success || results[0][1].Errors[0].StatusCode == "" {
		t.Errorf("update results %+v, %v; want the first applied, the second refused with a statusCode", results[0], errs[0])
	}
	if errs[1] != nil || !results[1][0].Success {
		t.Errorf("delete results %+v, %v", results[1], errs[1])
	}
	var ae *salesforce.APIError
	if errs[2] == nil || !errors.As(errs[2], &ae) || connectorlib.IsRetryable(errs[2]) {
		t.Errorf("upsert by a missing field: %v; want a permanent *APIError", errs[2])
	}
	if rec, err := e.sim.Get("Account", id1); err != nil || rec["Phone"] != "111" {
		t.Errorf("Account after update: %v, %v", rec, err)
	}
	if _, err := e.sim.Get("Account", id2); err == nil {
		t.Error("deleted Account still readable")
	}
	for _, r := range e.rec.requests() {
		if strings.HasPrefix(r.path, "/services/data/") && r.header.Get("Sforce-Call-Options") != "client=sink-a" {
			t.Errorf("%s %s without the call options", r.method, r.path)
		}
	}
	if n := e.rec.count(http.MethodPost, "/services/data/v62.0/composite"); n != 1 {
		t.Errorf("%d composite requests; want 1", n)
	}
}

// TestClient_CompositeQueries runs two queries in one request.
func TestClient_CompositeQueries(t *testing.T) {
	e := newEnv(t, envOpts{client: salesforce.ClientConfig{APIVersion: "62.0"}})
	ctx := testContext(t)
	for _, n := range []string{"A", "B", "C"} {
		if _, err := e.sim.Create("Account", map[string]any{"Name": n}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.client.CompositeQueries(ctx, []string{"SELECT Id, Name FROM Account WHERE Name IN ('A','B')", "SELECT Name FROM Account WHERE Name = 'C'"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 1 || got[1][0]["Name"] != "C" {
		t.Fatalf("results %v", got)
	}
	if _, ok := got[1][0]["attributes"]; ok {
		t.Error("attributes not stripped")
	}
	if _, err := e.client.CompositeQueries(ctx, []string{"SELECT Nope FROM Account"}); err == nil || connectorlib.IsRetryable(err) {
		t.Errorf("bad query: %v; want a permanent error", err)
	}
}

// TestClient_BulkIngest upserts through a Bulk API 2.0 job and reads the
// successful and failed results back.
func TestClient_BulkIngest(t *testing.T) {
	e := newEnv(t, envOpts{client: salesforce.ClientConfig{APIVersion: "62.0", CallClientID: "sink-a"}})
	ctx := testContext(t)
	rows := [][]string{{"b1", "One", "1"}, {"b2", "Two", salesforce.BulkNull}, {"b3", "", "not a number"}}
	res, err := e.client.BulkIngest(ctx, salesforce.IngestJob{Object: "Account", Operation: "upsert", ExternalIDField: "External_Id__c"},
		[]string{"External_Id__c", "Name", "NumberOfEmployees"}, rows, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != salesforce.JobComplete || len(res.Successful) != 2 || len(res.Failed) != 1 || res.Calls < 7 {
		b, _ := json.Marshal(res)
		t.Fatalf("results %s", b)
	}
	if res.FailedHeader[0] != "sf__Id" || res.FailedHeader[1] != "sf__Error" || res.Failed[0][2] != "b3" {
		t.Errorf("failed rows %v %v", res.FailedHeader, res.Failed)
	}
	for _, r := range e.rec.requests() {
		if strings.HasPrefix(r.path, "/services/data/") && r.header.Get("Sforce-Call-Options") != "client=sink-a" {
			t.Errorf("%s %s without the call options", r.method, r.path)
		}
	}
}

func TestClient_CallClientID(t *testing.T) {
	if got := salesforce.NewClient(nil, http.DefaultClient, salesforce.ClientConfig{CallClientID: "sink-a"}).CallClientID(); got != "sink-a" {
		t.Errorf("CallClientID = %q", got)
	}
	if got := salesforce.NewClient(nil, http.DefaultClient, salesforce.ClientConfig{}).CallClientID(); got != "" {
		t.Errorf("CallClientID without one = %q", got)
	}
}
