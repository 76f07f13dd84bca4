package rest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

type saveResultJSON struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
	Created *bool `json:"created"`
}

func account(fields map[string]any) map[string]any {
	fields["attributes"] = map[string]any{"type": "Account"}
	return fields
}

func TestCollection_MassUpdateIsOneChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.seed(3, func(i int) map[string]any { return map[string]any{"Name": fmt.Sprintf("A%d", i)} })
	var records []any
	for _, id := range ids {
		records = append(records, account(map[string]any{"id": id, "Rating": "Hot", "Industry": "Energy"}))
	}
	var res []saveResultJSON
	e.do(http.MethodPatch, v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": records},
		"Sforce-Call-Options", "client=sink").want(t, http.StatusOK).decode(t, &res)
	for i, r := range res {
		if !r.Success || r.ID != ids[i] || r.Errors == nil {
			t.Fatalf("result %d %+v", i, r)
		}
	}
	commits := e.takeCommits()
	if len(commits) != 1 || len(commits[0].Changes) != 1 {
		t.Fatalf("commits %+v", commits)
	}
	ch := commits[0].Changes[0]
	if ch.Type != org.ChangeUpdate || !slices.Equal(ch.RecordIDs, ids) || commits[0].Origin != "com/salesforce/api/rest/62.0;client=sink" {
		t.Fatalf("change %+v, origin %q", ch, commits[0].Origin)
	}
}

func TestCollection_ValidationRuleFailsOneOf200(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.org.AddValidationRule(org.ValidationRule{Object: "Account", Field: "Phone", Message: "Phone must not be 000",
		Reject: func(r org.Record) bool { return r["Phone"] == "000" }})
	var records []any
	for i := range 200 {
		phone := fmt.Sprintf("%03d", i+1)
		if i == 117 {
			phone = "000"
		}
		records = append(records, account(map[string]any{"Name": fmt.Sprintf("A%d", i), "Phone": phone}))
	}
	var res []saveResultJSON
	e.do(http.MethodPost, v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": records}).want(t, http.StatusOK).decode(t, &res)
	ok := 0
	for i, r := range res {
		if i == 117 {
			if r.Success || r.ID != "" || len(r.Errors) != 1 || r.Errors[0].StatusCode != "FIELD_CUSTOM_VALIDATION_EXCEPTION" ||
				r.Errors[0].Message != "Phone must not be 000" || !slices.Equal(r.Errors[0].Fields, []string{"Phone"}) {
				t.Fatalf("failed record %+v", r)
			}
			continue
		}
		if r.Success && strings.HasPrefix(r.ID, "001") {
			ok++
		}
	}
	if ok != 199 || e.count("Account") != 199 {
		t.Fatalf("%d succeeded, %d accounts; want 199", ok, e.count("Account"))
	}
	if c := e.takeCommits(); len(c) != 1 || len(c[0].Changes) != 199 {
		t.Fatalf("want one commit of 199 creates, got %d commits", len(c))
	}
	if strings.Contains(fmt.Sprint(res[117]), "errorCode") {
		t.Fatal("collections must use statusCode")
	}
}

func TestCollection_AllOrNoneRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	records := []any{
		account(map[string]any{"Name": "A"}),
		account(map[string]any{"Phone": "no name"}),
		account(map[string]any{"Name": "C"}),
	}
	var res []saveResultJSON
	r := e.do(http.MethodPost, v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": records}).want(t, http.StatusOK)
	r.decode(t, &res)
	for _, i := range []int{0, 2} {
		if res[i].Success || res[i].ID != "" || res[i].Errors[0].StatusCode != "ALL_OR_NONE_OPERATION_ROLLED_BACK" ||
			res[i].Errors[0].Message != "Record rolled back because not all records were valid and the request was using AllOrNone header" {
			t.Fatalf("record %d %+v", i, res[i])
		}
	}
	if res[1].Errors[0].StatusCode != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("record 1 %+v", res[1])
	}
	if e.count("Account") != 0 || len(e.takeCommits()) != 0 {
		t.Fatal("allOrNone left records behind")
	}
	if !strings.Contains(string(r.body), `{"success":false,"errors":[{"statusCode":"ALL_OR_NONE_OPERATION_ROLLED_BACK",`) {
		t.Fatalf("body %s", r.body)
	}
}

func TestCollection_DeleteRetrieveAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.seed(3, func(i int) map[string]any { return map[string]any{"Name": fmt.Sprintf("A%d", i)} })

	var recs []map[string]any
	e.do(http.MethodGet, v+"/composite/sobjects/Account?ids="+ids[0]+","+ids[1]+",001000000000000AAA&fields=Name", nil).want(t, http.StatusOK).decode(t, &recs)
	if len(recs) != 3 || recs[0]["Name"] != "A0" || recs[1]["Name"] != "A1" || recs[2] != nil {
		t.Fatalf("retrieve %v", recs)
	}
	recs = nil
	e.do(http.MethodPost, v+"/composite/sobjects/Account", map[string]any{"ids": []string{ids[2]}, "fields": []string{"Id", "Name"}}).want(t, http.StatusOK).decode(t, &recs)
	if len(recs) != 1 || recs[0]["Id"] != ids[2] {
		t.Fatalf("retrieve POST %v", recs)
	}
	e.do(http.MethodGet, v+"/composite/sobjects/Account?ids="+ids[0], nil).want(t, http.StatusBadRequest)

	var res []saveResultJSON
	e.do(http.MethodDelete, v+"/composite/sobjects?ids="+ids[0]+","+ids[1]+",bogus", nil).want(t, http.StatusOK).decode(t, &res)
	if !res[0].Success || !res[1].Success || res[2].Success || res[2].Errors[0].StatusCode != "MALFORMED_ID" || res[0].ID != ids[0] {
		t.Fatalf("delete %+v", res)
	}
	if c := e.takeCommits(); len(c) != 1 || len(c[0].Changes) != 1 || len(c[0].Changes[0].RecordIDs) != 2 {
		t.Fatalf("mass delete commits %+v", c)
	}
	res = nil
	e.do(http.MethodDelete, v+"/composite/sobjects?allOrNone=true&ids="+ids[2]+","+ids[0], nil).want(t, http.StatusOK).decode(t, &res)
	if res[0].Errors[0].StatusCode != "ALL_OR_NONE_OPERATION_ROLLED_BACK" || res[1].Errors[0].StatusCode != "ENTITY_IS_DELETED" {
		t.Fatalf("allOrNone delete %+v", res)
	}
	if e.count("Account") != 1 {
		t.Fatalf("%d accounts", e.count("Account"))
	}

	res = nil
	e.do(http.MethodPatch, v+"/composite/sobjects", map[string]any{"records": []any{
		account(map[string]any{"Name": "no id"}),
		map[string]any{"id": ids[2], "Name": "typed by prefix"},
	}}).want(t, http.StatusOK).decode(t, &res)
	if res[0].Errors[0].StatusCode != "MISSING_ARGUMENT" || res[0].Errors[0].Message != "Id not specified in an update call" || !res[1].Success {
		t.Fatalf("update %+v", res)
	}

	var many []any
	for range 201 {
		many = append(many, account(map[string]any{"Name": "x"}))
	}
	r := e.do(http.MethodPost, v+"/composite/sobjects", map[string]any{"records": many}).want(t, http.StatusBadRequest)
	if string(r.body) != `[{"message":"record limit reached. cannot submit more than 200 records into this call","errorCode":"EXCEEDED_ID_LIMIT"}]` {
		t.Fatalf("201 records %s", r.body)
	}
	e.do(http.MethodPost, v+"/composite/sobjects", `{"records":[1]}`).want(t, http.StatusBadRequest)
	e.do(http.MethodPost, "/services/data/v41.0/composite/sobjects", map[string]any{"records": []any{}}).want(t, http.StatusNotFound)
	res = nil
	e.do(http.MethodPost, v+"/composite/sobjects", map[string]any{"records": []any{
		map[string]any{"Name": "untyped"}, map[string]any{"attributes": map[string]any{"type": "Nope__c"}},
	}}).want(t, http.StatusOK).decode(t, &res)
	if res[0].Errors[0].StatusCode != "INVALID_TYPE" || res[1].Errors[0].StatusCode != "INVALID_TYPE" {
		t.Fatalf("types %+v", res)
	}
}

func TestCollection_Upsert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	existing := e.seed(1, func(int) map[string]any { return map[string]any{"Name": "Old", "External_Id__c": "E-1"} })[0]
	e.seed(2, func(int) map[string]any { return map[string]any{"Name": "L", "Legacy_Id__c": "twice"} })
	var res []saveResultJSON
	e.do(http.MethodPatch, v+"/composite/sobjects/Account/External_Id__c", map[string]any{"allOrNone": false, "records": []any{
		account(map[string]any{"External_Id__c": "e-1", "Name": "Updated"}),
		account(map[string]any{"External_Id__c": "E-2", "Name": "New"}),
		account(map[string]any{"Name": "no key"}),
		account(map[string]any{"External_Id__c": "D", "Name": "dup1"}),
		account(map[string]any{"External_Id__c": "d", "Name": "dup2"}),
	}}).want(t, http.StatusOK).decode(t, &res)
	if !res[0].Success || res[0].ID != existing || res[0].Created == nil || *res[0].Created {
		t.Fatalf("update %+v", res[0])
	}
	if !res[1].Success || res[1].Created == nil || !*res[1].Created {
		t.Fatalf("create %+v", res[1])
	}
	if res[2].Success || res[2].Errors[0].StatusCode != "MISSING_ARGUMENT" {
		t.Fatalf("no key %+v", res[2])
	}
	for _, i := range []int{3, 4} {
		if res[i].Success || res[i].Errors[0].StatusCode != "DUPLICATE_EXTERNAL_ID" {
			t.Fatalf("duplicate %+v", res[i])
		}
	}
	got, _ := e.org.Get("Account", existing)
	if got["Name"] != "Updated" || got["External_Id__c"] != "E-1" {
		t.Fatalf("updated record %v", got)
	}
	res = nil
	e.do(http.MethodPatch, v+"/composite/sobjects/Account/Legacy_Id__c", map[string]any{"records": []any{
		account(map[string]any{"Legacy_Id__c": "twice", "Phone": "1"}),
	}}).want(t, http.StatusOK).decode(t, &res)
	if res[0].Errors[0].StatusCode != "DUPLICATE_EXTERNAL_ID" || !strings.Contains(res[0].Errors[0].Message, "more than one record") {
		t.Fatalf("several matches %+v", res[0])
	}
	e.do(http.MethodPatch, v+"/composite/sobjects/Account/Phone", map[string]any{"records": []any{}}).want(t, http.StatusNotFound)
	e.do(http.MethodPatch, "/services/data/v45.0/composite/sobjects/Account/External_Id__c", map[string]any{"records": []any{}}).want(t, http.StatusNotFound)
}
