package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type queryPage struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

func q(soql string) string { return v + "/query?q=" + url.QueryEscape(soql) }

func TestQuery_RecordsAndCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.seed(3, func(i int) map[string]any {
		return map[string]any{"Name": fmt.Sprintf("Acme %d", i), "NumberOfEmployees": float64(i), "BillingCity": "Paris"}
	})
	r := e.do(http.MethodGet, q("SELECT name, Id, BillingAddress FROM account WHERE NumberOfEmployees > 0 ORDER BY Name DESC"), nil).want(t, http.StatusOK)
	want := `{"totalSize":2,"done":true,"records":[{"attributes":{"type":"Account","url":"` + v + `/sobjects/Account/` + ids[2] +
		`"},"Name":"Acme 2","Id":"` + ids[2] + `","BillingAddress":{"city":"Paris","country":null,"geocodeAccuracy":null,"latitude":null,"longitude":null,"postalCode":null,"state":null,"street":null}}`
	if !strings.HasPrefix(string(r.body), want) {
		t.Fatalf("query body %s\nwant prefix %s", r.body, want)
	}
	if r.header.Get("Sforce-Limit-Info") == "" {
		t.Fatal("query response lacks Sforce-Limit-Info")
	}
	r = e.do(http.MethodGet, q("SELECT COUNT() FROM Account WHERE BillingCity = 'paris'"), nil).want(t, http.StatusOK)
	if string(r.body) != `{"totalSize":3,"done":true,"records":[]}` {
		t.Fatalf("count %s", r.body)
	}
	var page queryPage
	e.do(http.MethodGet, v+"/queryAll?q="+url.QueryEscape("SELECT Id FROM Account"), nil).want(t, http.StatusOK).decode(t, &page)
	if page.TotalSize != 3 {
		t.Fatalf("queryAll %+v", page)
	}
}

func TestQuery_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, path, code string
	}{
		{"syntax", q("SELEC Id FROM Account"), "MALFORMED_QUERY"},
		{"unknown object", q("SELECT Id FROM Nope__c"), "INVALID_TYPE"},
		{"unknown field", q("SELECT Nope FROM Account"), "INVALID_FIELD"},
		{"no q", v + "/query", "MALFORMED_QUERY"},
		{"bad locator", v + "/query/01gXXXXXXXXXXXXXXX-2000", "INVALID_QUERY_LOCATOR"},
		{"bad offset", v + "/query/01gXXXXXXXXXXXXXXX", "INVALID_QUERY_LOCATOR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodGet, tt.path, nil).want(t, http.StatusBadRequest)
			errs := r.errorsOf(t)
			if errs[0]["errorCode"] != tt.code || errs[0]["message"] == "" || len(errs[0]) != 2 {
				t.Fatalf("body %s, want [{message, errorCode %s}]", r.body, tt.code)
			}
		})
	}
	r := e.do(http.MethodGet, q("SELECT Id FROM Nope__c"), nil)
	if !strings.Contains(string(r.body), `ERROR at Row:1:Column:16`) {
		t.Fatalf("soql message %s", r.body)
	}
}

func TestQuery_Paging5000(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 5000
	e.seed(n, func(i int) map[string]any { return map[string]any{"Name": fmt.Sprintf("A%05d", i)} })
	next := q("SELECT Id, Name FROM Account ORDER BY Name")
	var sizes []int
	seen := 0
	for next != "" {
		var page queryPage
		e.do(http.MethodGet, next, nil).want(t, http.StatusOK).decode(t, &page)
		if page.TotalSize != n {
			t.Fatalf("totalSize %d", page.TotalSize)
		}
		for i, rec := range page.Records {
			if want := fmt.Sprintf("A%05d", seen+i); rec["Name"] != want {
				t.Fatalf("record %d is %v, want %s", seen+i, rec["Name"], want)
			}
		}
		seen += len(page.Records)
		sizes = append(sizes, len(page.Records))
		if page.Done != (page.NextRecordsURL == "") {
			t.Fatalf("done %v with nextRecordsUrl %q", page.Done, page.NextRecordsURL)
		}
		next = page.NextRecordsURL
	}
	if fmt.Sprint(sizes) != "[2000 2000 1000]" || seen != n {
		t.Fatalf("page sizes %v, %d records", sizes, seen)
	}

	// batchSize is honoured within 200..2000.
	sizes = nil
	next = q("SELECT Id FROM Account")
	for next != "" {
		var page queryPage
		e.do(http.MethodGet, next, nil, "Sforce-Query-Options", "batchSize=1500").want(t, http.StatusOK).decode(t, &page)
		sizes = append(sizes, len(page.Records))
		next = page.NextRecordsURL
	}
	if fmt.Sprint(sizes) != "[1500 1500 1500 500]" {
		t.Fatalf("batchSize=1500 pages %v", sizes)
	}
	var page queryPage
	e.do(http.MethodGet, q("SELECT Id FROM Account"), nil, "Sforce-Query-Options", "batchSize=10").want(t, http.StatusOK).decode(t, &page)
	if len(page.Records) != 200 {
		t.Fatalf("batchSize=10 gave %d records, want the minimum 200", len(page.Records))
	}

	// Cursors expire after 15 minutes without use.
	e.clock.Advance(16 * time.Minute)
	e.token, _ = e.auth.IssueToken()
	e.do(http.MethodGet, page.NextRecordsURL, nil).want(t, http.StatusBadRequest)
}
