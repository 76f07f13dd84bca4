package rest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

func TestDescribe_GlobalBasicAndFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var global struct {
		Encoding     string           `json:"encoding"`
		MaxBatchSize int              `json:"maxBatchSize"`
		SObjects     []map[string]any `json:"sobjects"`
	}
	e.do(http.MethodGet, v+"/sobjects", nil).want(t, http.StatusOK).decode(t, &global)
	if global.Encoding != "UTF-8" || global.MaxBatchSize != 200 || len(global.SObjects) != 5 {
		t.Fatalf("describeGlobal %+v", global)
	}
	acct := global.SObjects[0]
	if acct["name"] != "Account" || acct["keyPrefix"] != "001" || acct["queryable"] != true ||
		acct["urls"].(map[string]any)["describe"] != v+"/sobjects/Account/describe" {
		t.Fatalf("Account entry %v", acct)
	}

	var basic map[string]any
	e.do(http.MethodGet, v+"/sobjects/account", nil).want(t, http.StatusOK).decode(t, &basic)
	if basic["objectDescribe"].(map[string]any)["name"] != "Account" {
		t.Fatalf("basic info %v", basic)
	}

	var d struct {
		Name               string           `json:"name"`
		Fields             []map[string]any `json:"fields"`
		ChildRelationships []map[string]any `json:"childRelationships"`
	}
	e.do(http.MethodGet, v+"/sobjects/Contact/describe", nil).want(t, http.StatusOK).decode(t, &d)
	byName := map[string]map[string]any{}
	for _, f := range d.Fields {
		byName[f["name"].(string)] = f
	}
	if d.Fields[0]["name"] != "Id" || byName["Id"]["type"] != "id" || byName["Id"]["soapType"] != "tns:ID" {
		t.Fatalf("Id field %v", d.Fields[0])
	}
	acctID := byName["AccountId"]
	if acctID["type"] != "reference" || acctID["relationshipName"] != "Account" || acctID["referenceTo"].([]any)[0] != "Account" {
		t.Fatalf("AccountId %v", acctID)
	}
	if ln := byName["LastName"]; ln["nillable"] != false || ln["createable"] != true || ln["length"] != 80.0 || ln["compoundFieldName"] != "Name" {
		t.Fatalf("LastName %v", ln)
	}
	if ext := byName["External_Id__c"]; ext["externalId"] != true || ext["idLookup"] != true || ext["unique"] != true || ext["custom"] != true {
		t.Fatalf("External_Id__c %v", ext)
	}
	if sal := byName["Salutation"]; len(sal["picklistValues"].([]any)) != 5 {
		t.Fatalf("Salutation %v", sal)
	}
	for _, f := range d.Fields {
		for _, k := range []string{"picklistValues", "referenceTo", "soapType", "filterable", "sortable", "updateable", "defaultedOnCreate", "calculated"} {
			if _, ok := f[k]; !ok {
				t.Fatalf("field %v lacks %s", f["name"], k)
			}
		}
	}
	var ad struct {
		ChildRelationships []map[string]any `json:"childRelationships"`
	}
	e.do(http.MethodGet, v+"/sobjects/Account/describe", nil).want(t, http.StatusOK).decode(t, &ad)
	found := false
	for _, cr := range ad.ChildRelationships {
		if cr["childSObject"] == "Contact" && cr["field"] == "AccountId" && cr["relationshipName"] == "Contacts" {
			found = true
		}
	}
	if !found {
		t.Fatalf("Account childRelationships %v", ad.ChildRelationships)
	}
	e.do(http.MethodGet, v+"/sobjects/Nope__c/describe", nil).want(t, http.StatusNotFound)
	e.do(http.MethodGet, v+"/sobjects/Nope__c", nil).want(t, http.StatusNotFound)
}

func TestSObject_CRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(http.MethodPost, v+"/sobjects/account", map[string]any{"Name": "Acme", "BillingCity": "Paris", "NumberOfEmployees": 10}).want(t, http.StatusCreated)
	var created struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
		Errors  []any  `json:"errors"`
	}
	r.decode(t, &created)
	if !created.Success || created.Errors == nil || len(created.ID) != 18 || !strings.HasPrefix(string(r.body), `{"id":"001`) {
		t.Fatalf("create body %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != v+"/sobjects/Account/"+created.ID {
		t.Fatalf("Location %q", loc)
	}

	r = e.do(http.MethodGet, v+"/sobjects/Account/"+created.ID[:15], nil).want(t, http.StatusOK)
	if !strings.HasPrefix(string(r.body), `{"attributes":{"type":"Account","url":"`+v+`/sobjects/Account/`+created.ID+`"},"Id":"`+created.ID+`"`) {
		t.Fatalf("record %s", r.body)
	}
	var rec map[string]any
	r.decode(t, &rec)
	addr, _ := rec["BillingAddress"].(map[string]any)
	if rec["Name"] != "Acme" || rec["NumberOfEmployees"] != 10.0 || rec["Phone"] != nil || addr["city"] != "Paris" || rec["ShippingAddress"] != nil {
		t.Fatalf("record %v", rec)
	}
	if _, ok := rec["Phone"]; !ok {
		t.Fatal("null fields are missing from the record")
	}

	r = e.do(http.MethodGet, v+"/sobjects/Account/"+created.ID+"?fields=name,BillingCity", nil).want(t, http.StatusOK)
	want := `{"attributes":{"type":"Account","url":"` + v + `/sobjects/Account/` + created.ID + `"},"Name":"Acme","BillingCity":"Paris"}`
	if string(r.body) != want {
		t.Fatalf("fields= record %s", r.body)
	}
	r = e.do(http.MethodGet, v+"/sobjects/Account/"+created.ID+"?fields=Nope", nil).want(t, http.StatusBadRequest)
	if errs := r.errorsOf(t); errs[0]["errorCode"] != "INVALID_FIELD" {
		t.Fatalf("%s", r.body)
	}

	r = e.do(http.MethodPatch, v+"/sobjects/Account/"+created.ID, map[string]any{"Phone": "123", "BillingCity": nil}).want(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %s", r.body)
	}
	got, _ := e.org.Get("Account", created.ID)
	if got["Phone"] != "123" || got["BillingCity"] != nil {
		t.Fatalf("after PATCH %v", got)
	}

	if c := e.takeCommits(); len(c) != 2 || c[0].Changes[0].Type != org.ChangeCreate || c[1].Changes[0].Type != org.ChangeUpdate {
		t.Fatalf("commits %+v", c)
	}
	e.do(http.MethodPost, v+"/sobjects/Account/Id", map[string]any{"Name": "Via Id"}).want(t, http.StatusCreated)
	e.takeCommits()
	e.do(http.MethodDelete, v+"/sobjects/Account/"+created.ID, nil).want(t, http.StatusNoContent)
	r = e.do(http.MethodGet, v+"/sobjects/Account/"+created.ID, nil).want(t, http.StatusNotFound)
	if string(r.body) != `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]` {
		t.Fatalf("GET deleted %s", r.body)
	}
	r = e.do(http.MethodDelete, v+"/sobjects/Account/"+created.ID, nil).want(t, http.StatusNotFound)
	if errs := r.errorsOf(t); errs[0]["errorCode"] != "ENTITY_IS_DELETED" {
		t.Fatalf("DELETE deleted %s", r.body)
	}
	c := e.takeCommits()
	if len(c) != 1 || c[0].Changes[0].Type != org.ChangeDelete {
		t.Fatalf("commits %+v", c)
	}
}

func TestSObject_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seed(1, func(int) map[string]any { return map[string]any{"Name": "A"} })[0]
	missing := "001" + id[3:14] + "Z" // well formed, no such record
	if nid, err := org.NormalizeID(missing[:15]); err == nil {
		missing = nid
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		want               string // exact body, or "" to check code only
		code               string
	}{
		{"required field", http.MethodPost, "/sobjects/Contact", map[string]any{"FirstName": "Ann"}, 400,
			`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`, ""},
		{"unknown field", http.MethodPost, "/sobjects/Account", map[string]any{"Name": "A", "Nope__c": 1}, 400, "", "INVALID_FIELD"},
		{"wrong type", http.MethodPost, "/sobjects/Account", map[string]any{"Name": "A", "NumberOfEmployees": "many"}, 400, "", "INVALID_TYPE_ON_FIELD_IN_RECORD"},
		{"read-only field", http.MethodPost, "/sobjects/Account", map[string]any{"Name": "A", "CreatedDate": "2020-01-01T00:00:00Z"}, 400, "", "INVALID_FIELD_FOR_INSERT_UPDATE"},
		{"id in insert", http.MethodPost, "/sobjects/Account", map[string]any{"Name": "A", "Id": id}, 400, "", "INVALID_FIELD"},
		{"unknown type", http.MethodPost, "/sobjects/Nope__c", map[string]any{"Name": "A"}, 404,
			`[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`, ""},
		{"malformed json", http.MethodPost, "/sobjects/Account", `{"Name":`, 400, "", "JSON_PARSER_ERROR"},
		{"trailing data", http.MethodPost, "/sobjects/Account", `{"Name":"A"} x`, 400, "", "JSON_PARSER_ERROR"},
		{"empty body", http.MethodPost, "/sobjects/Account", "", 400,
			`[{"message":"The HTTP entity body is required, but this request has no entity body.","errorCode":"JSON_PARSER_ERROR"}]`, ""},
		{"array body", http.MethodPost, "/sobjects/Account", `[{"Name":"A"}]`, 400, "", "JSON_PARSER_ERROR"},
		{"patch malformed id", http.MethodPatch, "/sobjects/Account/abc", map[string]any{"Name": "B"}, 400,
			`[{"message":"Account ID: id value of incorrect type: abc","errorCode":"MALFORMED_ID","fields":["Id"]}]`, ""},
		{"patch id of other type", http.MethodPatch, "/sobjects/Contact/" + id, map[string]any{"LastName": "B"}, 400, "", "MALFORMED_ID"},
		{"delete malformed id", http.MethodDelete, "/sobjects/Account/abc", nil, 400, "", "MALFORMED_ID"},
		{"patch missing record", http.MethodPatch, "/sobjects/Account/" + missing, map[string]any{"Name": "B"}, 404,
			`[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`, ""},
		{"get malformed id", http.MethodGet, "/sobjects/Account/abc", nil, 404,
			`[{"errorCode":"NOT_FOUND","message":"Provided external ID field does not exist or is not accessible: abc"}]`, ""},
		{"get missing record", http.MethodGet, "/sobjects/Account/" + missing, nil, 404,
			`[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`, ""},
		{"patch validation", http.MethodPatch, "/sobjects/Account/" + id, map[string]any{"Name": nil}, 400, "", "REQUIRED_FIELD_MISSING"},
		{"method", http.MethodPost, "/sobjects/Account/" + id, map[string]any{}, 405, "", "METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, v+tt.path, tt.body).want(t, tt.status)
			if tt.want != "" && string(r.body) != tt.want {
				t.Fatalf("body %s\nwant %s", r.body, tt.want)
			}
			if tt.code != "" {
				if errs := r.errorsOf(t); errs[0]["errorCode"] != tt.code || errs[0]["message"] == "" {
					t.Fatalf("body %s, want code %s", r.body, tt.code)
				}
			}
		})
	}
	if c := e.takeCommits(); len(c) != 0 {
		t.Fatalf("failed requests committed %+v", c)
	}
}

func TestSObject_Upsert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(http.MethodPatch, v+"/sobjects/Account/External_Id__c/X-1", map[string]any{"Name": "One"}).want(t, http.StatusCreated)
	var res map[string]any
	r.decode(t, &res)
	id, _ := res["id"].(string)
	if res["created"] != true || res["success"] != true || !strings.HasPrefix(string(r.body), `{"id":"`) {
		t.Fatalf("create %s", r.body)
	}
	if r.header.Get("Location") != v+"/sobjects/Account/"+id {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	r = e.do(http.MethodPatch, v+"/sobjects/Account/external_id__c/x-1", map[string]any{"Phone": "1"}).want(t, http.StatusOK)
	if string(r.body) != `{"id":"`+id+`","success":true,"errors":[],"created":false}` {
		t.Fatalf("update %s", r.body)
	}
	// Below API 46.0: 204 for an update and no "created" on create.
	e.do(http.MethodPatch, "/services/data/v45.0/sobjects/Account/External_Id__c/X-1", map[string]any{"Phone": "2"}).want(t, http.StatusNoContent)
	r = e.do(http.MethodPatch, "/services/data/v45.0/sobjects/Account/External_Id__c/X-2", map[string]any{"Name": "Two"}).want(t, http.StatusCreated)
	if strings.Contains(string(r.body), "created") {
		t.Fatalf("v45 create %s", r.body)
	}
	got, _ := e.org.Get("Account", id)
	if got["Phone"] != "2" || got["Name"] != "One" || got["External_Id__c"] != "X-1" {
		t.Fatalf("record %v", got)
	}

	// Several matches: 300 with the record URLs.
	ids := e.seed(2, func(int) map[string]any { return map[string]any{"Name": "L", "Legacy_Id__c": "dup"} })
	r = e.do(http.MethodPatch, v+"/sobjects/Account/Legacy_Id__c/dup", map[string]any{"Phone": "3"}).want(t, http.StatusMultipleChoices)
	var urls []string
	r.decode(t, &urls)
	if len(urls) != 2 || urls[0] != v+"/sobjects/Account/"+ids[0] || urls[1] != v+"/sobjects/Account/"+ids[1] {
		t.Fatalf("300 body %s", r.body)
	}
	e.do(http.MethodGet, v+"/sobjects/Account/Legacy_Id__c/dup", nil).want(t, http.StatusMultipleChoices)

	r = e.do(http.MethodPatch, v+"/sobjects/Account/Phone/123", map[string]any{"Name": "x"}).want(t, http.StatusNotFound)
	if string(r.body) != `[{"errorCode":"NOT_FOUND","message":"Provided external ID field does not exist or is not accessible: Phone"}]` {
		t.Fatalf("bad field %s", r.body)
	}
	e.do(http.MethodPatch, v+"/sobjects/Account/External_Id__c/X-9?updateOnly=true", map[string]any{"Name": "x"}).want(t, http.StatusNotFound)
	r = e.do(http.MethodPatch, v+"/sobjects/Account/External_Id__c/X-9", map[string]any{"Name": "x", "External_Id__c": "X-9"}).want(t, http.StatusBadRequest)
	if errs := r.errorsOf(t); errs[0]["errorCode"] != "INVALID_FIELD" {
		t.Fatalf("ext field in body %s", r.body)
	}
	e.do(http.MethodPatch, v+"/sobjects/Account/External_Id__c/X-9", map[string]any{"Name": "x", "Id": id}).want(t, http.StatusBadRequest)
	r = e.do(http.MethodPatch, v+"/sobjects/Account/External_Id__c/X-9", map[string]any{"Phone": "x"}).want(t, http.StatusBadRequest)
	if errs := r.errorsOf(t); errs[0]["errorCode"] != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("create without Name %s", r.body)
	}

	// GET and DELETE by external id; values are path-unescaped.
	e.do(http.MethodPatch, v+"/sobjects/Account/External_Id__c/a%2Fb", map[string]any{"Name": "Slash"}).want(t, http.StatusCreated)
	r = e.do(http.MethodGet, v+"/sobjects/Account/External_Id__c/A%2FB?fields=Name", nil).want(t, http.StatusOK)
	if !strings.HasSuffix(string(r.body), `"Name":"Slash"}`) {
		t.Fatalf("GET by external id %s", r.body)
	}
	e.do(http.MethodGet, v+"/sobjects/Account/External_Id__c/none", nil).want(t, http.StatusNotFound)
	e.do(http.MethodDelete, v+"/sobjects/Account/External_Id__c/a%2Fb", nil).want(t, http.StatusNoContent)
	e.do(http.MethodGet, v+"/sobjects/Account/External_Id__c/a%2Fb", nil).want(t, http.StatusNotFound)
}

func TestSObject_PlatformEventAndPushTopic(t *testing.T) {
	t.Parallel()
	type published struct {
		name   string
		fields map[string]any
		origin org.Origin
	}
	var got []published
	var topics []map[string]any
	e := newEnv(t, func(c *Config) {
		c.PublishPlatformEvent = func(name string, fields map[string]any, origin org.Origin) (string, *org.Error) {
			if fields["Bad__c"] != nil {
				return "", &org.Error{Code: "INVALID_FIELD", Message: "bad", Fields: []string{"Bad__c"}}
			}
			got = append(got, published{name, fields, origin})
			return "e008a0000000001AAA", nil
		}
		c.CreatePushTopic = func(fields map[string]any) (string, *org.Error) {
			topics = append(topics, fields)
			return "0IF8a0000000001AAA", nil
		}
	})
	r := e.do(http.MethodPost, v+"/sobjects/Order_Placed__e", map[string]any{"attributes": map[string]any{"type": "Order_Placed__e"}, "Amount__c": 5},
		"Sforce-Call-Options", "client=pub").want(t, http.StatusCreated)
	if string(r.body) != `{"id":"e008a0000000001AAA","success":true,"errors":[]}` {
		t.Fatalf("publish %s", r.body)
	}
	if len(got) != 1 || got[0].name != "Order_Placed__e" || got[0].fields["Amount__c"] != 5.0 || got[0].fields["attributes"] != nil ||
		got[0].origin != (org.Origin{API: "rest", Version: "62.0", Client: "pub"}) {
		t.Fatalf("published %+v", got)
	}
	r = e.do(http.MethodPost, v+"/sobjects/Order_Placed__e", map[string]any{"Bad__c": 1}).want(t, http.StatusBadRequest)
	if errs := r.errorsOf(t); errs[0]["errorCode"] != "INVALID_FIELD" {
		t.Fatalf("%s", r.body)
	}
	e.do(http.MethodPost, v+"/sobjects/PushTopic", map[string]any{"Name": "T", "Query": "SELECT Id FROM Account"}).want(t, http.StatusCreated)
	if len(topics) != 1 || topics[0]["Name"] != "T" {
		t.Fatalf("topics %v", topics)
	}
	// Without callbacks, neither exists.
	plain := newEnv(t)
	plain.do(http.MethodPost, v+"/sobjects/Order_Placed__e", map[string]any{"A": 1}).want(t, http.StatusNotFound)
	plain.do(http.MethodPost, v+"/sobjects/PushTopic", map[string]any{"A": 1}).want(t, http.StatusNotFound)
}
