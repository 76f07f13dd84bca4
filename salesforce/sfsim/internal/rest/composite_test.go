package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type compositeResponse struct {
	CompositeResponse []struct {
		Body           any               `json:"body"`
		HTTPHeaders    map[string]string `json:"httpHeaders"`
		HTTPStatusCode int               `json:"httpStatusCode"`
		ReferenceID    string            `json:"referenceId"`
	} `json:"compositeResponse"`
}

func sub(method, path, ref string, body any) map[string]any {
	m := map[string]any{"method": method, "url": v + path, "referenceId": ref}
	if body != nil {
		m["body"] = body
	}
	return m
}

func firstErrorCode(body any) string {
	errs, _ := body.([]any)
	if len(errs) == 0 {
		return ""
	}
	m, _ := errs[0].(map[string]any)
	s, _ := m["errorCode"].(string)
	return s
}

func TestComposite_ReferencesOneTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(1, func(int) map[string]any { return map[string]any{"Name": "Parent", "External_Id__c": "P-1"} })
	req := map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("GET", "/query?q="+url.QueryEscape("SELECT Id FROM Account WHERE External_Id__c = 'P-1'"), "refQ", nil),
		sub("POST", "/sobjects/Account", "refAccount", map[string]any{"Name": "Child", "ParentId": "@{refQ.records[0].Id}"}),
		sub("POST", "/sobjects/Contact", "refContact", map[string]any{"LastName": "Ng", "AccountId": "@{refAccount.id}", "Description": "of @{refAccount.id}"}),
		sub("GET", "/sobjects/Contact/@{refContact.id}?fields=AccountId", "refGet", nil),
		sub("PATCH", "/sobjects/Account/@{refAccount.id}", "refPatch", map[string]any{"Phone": "1"}),
	}}
	var res compositeResponse
	e.do(http.MethodPost, v+"/composite", req, "Sforce-Call-Options", "client=comp").want(t, http.StatusOK).decode(t, &res)
	cr := res.CompositeResponse
	if len(cr) != 5 {
		t.Fatalf("responses %+v", cr)
	}
	wantStatus := []int{200, 201, 201, 200, 204}
	for i, r := range cr {
		if r.HTTPStatusCode != wantStatus[i] {
			t.Fatalf("subrequest %s: %d %v", r.ReferenceID, r.HTTPStatusCode, r.Body)
		}
	}
	acctID := cr[1].Body.(map[string]any)["id"].(string)
	if cr[1].HTTPHeaders["Location"] != v+"/sobjects/Account/"+acctID || cr[1].ReferenceID != "refAccount" {
		t.Fatalf("create result %+v", cr[1])
	}
	if cr[3].Body.(map[string]any)["AccountId"] != acctID || cr[4].Body != nil {
		t.Fatalf("get %v, patch %v", cr[3].Body, cr[4].Body)
	}
	contactID := cr[2].Body.(map[string]any)["id"].(string)
	contact, _ := e.org.Get("Contact", contactID)
	if contact["Description"] != "of "+acctID {
		t.Fatalf("contact %v", contact)
	}
	commits := e.takeCommits()
	if len(commits) != 1 {
		t.Fatalf("%d commits, want one transaction", len(commits))
	}
	if c := commits[0]; len(c.Changes) != 3 || c.Origin != "com/salesforce/api/rest/62.0;client=comp" {
		t.Fatalf("commit %+v", c)
	}
}

func TestComposite_AllOrNoneRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("POST", "/sobjects/Account", "a1", map[string]any{"Name": "One"}),
		sub("POST", "/sobjects/Contact", "c1", map[string]any{"LastName": "Ng", "AccountId": "@{a1.id}"}),
		sub("POST", "/sobjects/Contact", "bad", map[string]any{"FirstName": "NoLastName"}),
		sub("POST", "/sobjects/Account", "a2", map[string]any{"Name": "Two"}),
	}}
	var res compositeResponse
	e.do(http.MethodPost, v+"/composite", req).want(t, http.StatusOK).decode(t, &res)
	for i, r := range res.CompositeResponse {
		want := "PROCESSING_HALTED"
		if i == 2 {
			want = "REQUIRED_FIELD_MISSING"
		}
		if r.HTTPStatusCode != 400 || firstErrorCode(r.Body) != want {
			t.Fatalf("subrequest %s: %d %v, want 400 %s", r.ReferenceID, r.HTTPStatusCode, r.Body, want)
		}
	}
	halted := res.CompositeResponse[0].Body.([]any)[0].(map[string]any)
	if halted["message"] != "The transaction was rolled back since another operation in the same transaction failed." {
		t.Fatalf("halted %v", halted)
	}
	if e.count("Account") != 0 || e.count("Contact") != 0 {
		t.Fatalf("allOrNone left %d accounts, %d contacts", e.count("Account"), e.count("Contact"))
	}
	if c := e.takeCommits(); len(c) != 0 {
		t.Fatalf("rolled back composite committed %+v", c)
	}
	// The org is usable afterwards (the transaction was released).
	e.do(http.MethodPost, v+"/sobjects/Account", map[string]any{"Name": "After"}).want(t, http.StatusCreated)
}

func TestComposite_PartialSuccessHaltsDependents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := map[string]any{"allOrNone": false, "compositeRequest": []any{
		sub("POST", "/sobjects/Account", "good", map[string]any{"Name": "Good"}),
		sub("POST", "/sobjects/Account", "bad", map[string]any{"Phone": "1"}),
		sub("POST", "/sobjects/Contact", "dependent", map[string]any{"LastName": "Ng", "AccountId": "@{bad.id}"}),
		sub("POST", "/sobjects/Contact", "independent", map[string]any{"LastName": "Ok", "AccountId": "@{good.id}"}),
		sub("GET", "/sobjects/Account/@{good.nope}", "badPath", nil),
	}}
	var res compositeResponse
	e.do(http.MethodPost, v+"/composite", req).want(t, http.StatusOK).decode(t, &res)
	cr := res.CompositeResponse
	if cr[0].HTTPStatusCode != 201 || cr[3].HTTPStatusCode != 201 {
		t.Fatalf("responses %+v", cr)
	}
	if cr[1].HTTPStatusCode != 400 || firstErrorCode(cr[1].Body) != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("bad %+v", cr[1])
	}
	for _, i := range []int{2, 4} {
		if cr[i].HTTPStatusCode != 400 || firstErrorCode(cr[i].Body) != "PROCESSING_HALTED" {
			t.Fatalf("%s %+v", cr[i].ReferenceID, cr[i])
		}
	}
	msg := cr[2].Body.([]any)[0].(map[string]any)["message"]
	if msg != "Invalid reference specified. No value for bad.id found in bad" {
		t.Fatalf("message %v", msg)
	}
	if e.count("Account") != 1 || e.count("Contact") != 1 {
		t.Fatalf("%d accounts, %d contacts", e.count("Account"), e.count("Contact"))
	}
	commits := e.takeCommits()
	if len(commits) != 1 || len(commits[0].Changes) != 2 {
		t.Fatalf("commits %+v", commits)
	}
}

func TestComposite_CollectionsInside(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("POST", "/composite/sobjects", "coll", map[string]any{"records": []any{
			map[string]any{"attributes": map[string]any{"type": "Account"}, "Name": "A"},
			map[string]any{"attributes": map[string]any{"type": "Account"}, "Phone": "no name"},
		}}),
		sub("POST", "/sobjects/Account", "after", map[string]any{"Name": "B"}),
	}}
	var res compositeResponse
	e.do(http.MethodPost, v+"/composite", req).want(t, http.StatusOK).decode(t, &res)
	if res.CompositeResponse[1].HTTPStatusCode != 400 || firstErrorCode(res.CompositeResponse[1].Body) != "PROCESSING_HALTED" {
		t.Fatalf("responses %+v", res.CompositeResponse)
	}
	if e.count("Account") != 0 {
		t.Fatalf("outer allOrNone left %d accounts", e.count("Account"))
	}
}

func TestComposite_Malformed400(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var many []any
	for i := range 26 {
		many = append(many, sub("GET", "/limits", fmt.Sprintf("r%d", i), nil))
	}
	var queries []any
	for i := range 6 {
		queries = append(queries, sub("GET", "/query?q=SELECT+Id+FROM+Account", fmt.Sprintf("q%d", i), nil))
	}
	tests := []struct {
		name string
		body any
		code string
	}{
		{"not json", `{"compositeRequest":`, "JSON_PARSER_ERROR"},
		{"wrong type", `{"compositeRequest":{}}`, "JSON_PARSER_ERROR"},
		{"empty", map[string]any{"compositeRequest": []any{}}, "INVALID_API_INPUT"},
		{"26 subrequests", map[string]any{"compositeRequest": many}, "INVALID_API_INPUT"},
		{"6 queries", map[string]any{"compositeRequest": queries}, "INVALID_API_INPUT"},
		{"duplicate ref", map[string]any{"compositeRequest": []any{sub("GET", "/sobjects/Account", "a", nil), sub("GET", "/sobjects/Account", "a", nil)}}, "INVALID_API_INPUT"},
		{"bad ref id", map[string]any{"compositeRequest": []any{sub("GET", "/sobjects/Account", "a-b", nil)}}, "INVALID_API_INPUT"},
		{"bad url", map[string]any{"compositeRequest": []any{map[string]any{"method": "GET", "url": "/sobjects/Account", "referenceId": "a"}}}, "INVALID_API_INPUT"},
		{"bad method", map[string]any{"compositeRequest": []any{sub("TRACE", "/sobjects/Account", "a", nil)}}, "INVALID_API_INPUT"},
		{"nested composite", map[string]any{"compositeRequest": []any{sub("POST", "/composite", "a", nil)}}, "INVALID_API_INPUT"},
		{"authorization header", map[string]any{"compositeRequest": []any{
			map[string]any{"method": "GET", "url": v + "/sobjects/Account", "referenceId": "a", "httpHeaders": map[string]string{"Authorization": "x"}}}}, "INVALID_API_INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodPost, v+"/composite", tt.body).want(t, http.StatusBadRequest)
			if errs := r.errorsOf(t); errs[0]["errorCode"] != tt.code {
				t.Fatalf("body %s, want %s", r.body, tt.code)
			}
		})
	}
	e.do(http.MethodGet, v+"/composite", nil).want(t, http.StatusMethodNotAllowed)
}

func TestBatch_EachCommittedHaltOnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seed(1, func(int) map[string]any { return map[string]any{"Name": "A"} })[0]
	req := map[string]any{"batchRequests": []any{
		map[string]any{"method": "PATCH", "url": "v62.0/sobjects/Account/" + id, "richInput": map[string]any{"Name": "Renamed"}},
		map[string]any{"method": "GET", "url": "v62.0/sobjects/Account/" + id + "?fields=Name"},
		map[string]any{"method": "POST", "url": "/services/data/v60.0/sobjects/Account", "richInput": map[string]any{"Name": "New"}},
	}}
	var res struct {
		HasErrors bool `json:"hasErrors"`
		Results   []struct {
			StatusCode int `json:"statusCode"`
			Result     any `json:"result"`
		} `json:"results"`
	}
	e.do(http.MethodPost, v+"/composite/batch", req, "Sforce-Call-Options", "client=b").want(t, http.StatusOK).decode(t, &res)
	if res.HasErrors || res.Results[0].StatusCode != 204 || res.Results[0].Result != nil || res.Results[2].StatusCode != 201 {
		t.Fatalf("batch %+v", res)
	}
	if res.Results[1].Result.(map[string]any)["Name"] != "Renamed" {
		t.Fatalf("GET after PATCH in the same batch %+v", res.Results[1])
	}
	commits := e.takeCommits()
	if len(commits) != 2 || commits[0].TransactionKey == commits[1].TransactionKey || commits[0].Origin != "com/salesforce/api/rest/62.0;client=b" {
		t.Fatalf("commits %+v", commits)
	}

	req = map[string]any{"haltOnError": true, "batchRequests": []any{
		map[string]any{"method": "POST", "url": "v62.0/sobjects/Account", "richInput": map[string]any{"Name": "Kept"}},
		map[string]any{"method": "POST", "url": "v62.0/sobjects/Account", "richInput": map[string]any{"Phone": "1"}},
		map[string]any{"method": "POST", "url": "v62.0/sobjects/Account", "richInput": map[string]any{"Name": "Never"}},
	}}
	res.Results = nil
	e.do(http.MethodPost, v+"/composite/batch", req).want(t, http.StatusOK).decode(t, &res)
	if !res.HasErrors || res.Results[0].StatusCode != 201 || res.Results[1].StatusCode != 400 || res.Results[2].StatusCode != 412 ||
		firstErrorCode(res.Results[2].Result) != "BATCH_PROCESSING_HALTED" {
		t.Fatalf("haltOnError %+v", res)
	}
	if e.count("Account") != 3 {
		t.Fatalf("%d accounts, want 3 (the first batch subrequest is not rolled back)", e.count("Account"))
	}

	for name, body := range map[string]any{
		"newer version": map[string]any{"batchRequests": []any{map[string]any{"method": "GET", "url": "v63.0/limits"}}},
		"too old":       map[string]any{"batchRequests": []any{map[string]any{"method": "GET", "url": "v33.0/limits"}}},
		"composite":     map[string]any{"batchRequests": []any{map[string]any{"method": "POST", "url": "v62.0/composite"}}},
		"empty":         map[string]any{"batchRequests": []any{}},
	} {
		r := e.do(http.MethodPost, v+"/composite/batch", body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}

func TestComposite_QueryAfterWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := map[string]any{"compositeRequest": []any{
		sub("POST", "/sobjects/Account", "a", map[string]any{"Name": "A"}),
		sub("GET", "/query?q="+url.QueryEscape("SELECT Id FROM Account"), "q", nil),
	}}
	var res compositeResponse
	e.do(http.MethodPost, v+"/composite", req).want(t, http.StatusOK).decode(t, &res)
	// The query runs inside the open transaction and sees its write.
	if res.CompositeResponse[1].HTTPStatusCode != 200 || !strings.Contains(fmt.Sprint(res.CompositeResponse[1].Body), "totalSize:1") {
		t.Fatalf("query after write %+v", res.CompositeResponse[1])
	}
	if res.CompositeResponse[0].HTTPStatusCode != 201 || e.count("Account") != 1 {
		t.Fatalf("write before the query %+v", res.CompositeResponse[0])
	}
}
