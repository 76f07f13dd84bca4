package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// fakeAuth accepts one token; the fuzz test builds a handler per input and
// needs no real identity provider.
type fakeAuth struct{ token string }

func (a fakeAuth) Validate(token string) (auth.Session, error) {
	if token != a.token {
		return auth.Session{}, errors.New("invalid")
	}
	return auth.Session{OrgID: testOrgID, UserID: testUserID}, nil
}

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, http.MethodHead, "OPTIONS"}

// FuzzServeHTTP feeds random methods, paths, bodies and headers to the
// handler: it must never panic, must answer JSON when it says so, and must
// never leave the org locked.
func FuzzServeHTTP(f *testing.F) {
	seeds := []struct {
		method uint8
		path   string
		body   string
		opts   string
	}{
		{1, "sobjects/Account", `{"Name":"A","NumberOfEmployees":3}`, "client=x"},
		{1, "sobjects/Account", `{"Name":`, ""},
		{1, "sobjects/Contact", `[1,2]`, ""},
		{2, "sobjects/Account/001000000000000AAA", `{"Name":null}`, ""},
		{2, "sobjects/Account/External_Id__c/k1", `{"Name":"U"}`, ""},
		{0, "sobjects/Account/External_Id__c/k1?fields=Name,Id", ``, ""},
		{0, "query?q=SELECT+Id,Name+FROM+Account+WHERE+Name+LIKE+'A%25'+ORDER+BY+Name", ``, "batchSize=200"},
		{0, "query/01gAAAAAAAAAAAAAAA-2000", ``, ""},
		{1, "composite", `{"allOrNone":true,"compositeRequest":[{"method":"POST","url":"/services/data/v62.0/sobjects/Account","referenceId":"a","body":{"Name":"A"}},{"method":"GET","url":"/services/data/v62.0/sobjects/Account/@{a.id}","referenceId":"b"}]}`, ""},
		{1, "composite", `{"compositeRequest":[{"method":"GET","url":"/services/data/v62.0/query?q=SELECT+Id+FROM+Account","referenceId":"q"},{"method":"PATCH","url":"/services/data/v62.0/sobjects/Account/@{q.records[0].Id}","referenceId":"p","body":{"Phone":"@{q.totalSize}"}}]}`, ""},
		{1, "composite/batch", `{"haltOnError":true,"batchRequests":[{"method":"GET","url":"v62.0/limits"},{"method":"POST","url":"v62.0/sobjects/Account","richInput":{}}]}`, ""},
		{1, "composite/sobjects", `{"allOrNone":true,"records":[{"attributes":{"type":"Account"},"Name":"A"},{"attributes":{"type":"Account"}}]}`, ""},
		{2, "composite/sobjects", `{"records":[{"attributes":{"type":"Account"},"id":"001000000000000AAA","Name":"A"}]}`, ""},
		{4, "composite/sobjects?ids=001000000000000AAA,x&allOrNone=true", ``, ""},
		{2, "composite/sobjects/Account/External_Id__c", `{"records":[{"attributes":{"type":"Account"},"External_Id__c":"1","Name":"A"}]}`, ""},
		{1, "composite/sobjects/Account", `{"ids":["001000000000000AAA"],"fields":["Name"]}`, ""},
		{1, "jobs/ingest", `{"object":"Account","operation":"upsert","externalIdFieldName":"External_Id__c"}`, ""},
		{3, "jobs/ingest/7508a0000000001AAA/batches", "External_Id__c,Name\n1,A\n", ""},
		{2, "jobs/ingest/7508a0000000001AAA", `{"state":"UploadComplete"}`, ""},
		{0, "jobs/ingest/7508a0000000001AAA/failedResults", ``, ""},
		{0, "sobjects/Account/describe", ``, ""},
		{0, "/services/data/", ``, ""},
		{0, "/services/data/v62.0/../v62.0/limits", ``, ""},
		{0, "sobjects/%zz", ``, ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), s.opts)
	}
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte, opts string) {
		o, err := org.New(org.Config{OrgID: testOrgID, UserID: testUserID, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		h := New(Config{Org: o, Auth: fakeAuth{"tok"}, Now: func() time.Time { return t0 },
			PublishPlatformEvent: func(string, map[string]any, org.Origin) (string, *org.Error) { return "e00000000000001", nil },
			CreatePushTopic: func(map[string]any) (string, *org.Error) {
				_, _, _ = o.Describe("Account") // the callbacks may read the org
				return "0IF000000000001", nil
			},
		})
		defer h.Close()
		// One record and one job, so ids and routes have something to hit.
		tx := o.Begin(org.Origin{})
		_, _ = tx.Create("Account", map[string]any{"Name": "Seed", "External_Id__c": "k1"})
		tx.Commit()

		target := path
		if !strings.HasPrefix(path, "/") {
			target = "/services/data/v62.0/" + path
		}
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		req := &http.Request{
			Method: fuzzMethods[int(method)%len(fuzzMethods)], URL: u, Header: http.Header{},
			Body: http.NoBody, Host: "example.com", RequestURI: target,
		}
		req = req.WithContext(t.Context())
		if len(body) > 0 {
			req.Body = httpBody(body)
			req.ContentLength = int64(len(body))
		}
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Sforce-Call-Options", opts)
		req.Header.Set("Sforce-Query-Options", opts)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 999 {
			t.Fatalf("status %d", rec.Code)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("invalid JSON body %q", rec.Body.Bytes())
		}
		done := make(chan struct{})
		go func() {
			_, _ = o.Records("Account") // blocks if a transaction was left open
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the org was left locked")
		}
	})
}

func httpBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// FuzzParseCSV checks that the Bulk API's CSV parser never panics and that
// every row it returns has the header's width.
func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{"A,B\n1,2\n", "A\n\"x\ny\"\n\n", "A,B\r\n\"a\"\"b\",c\r\n", "\"", "A\n\"x\"y", ",\n,\n"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, crlf bool) {
		le := "LF"
		if crlf {
			le = "CRLF"
		}
		header, rows, msg := parseCSV(data, ',', le)
		if msg != "" {
			return
		}
		for _, r := range rows {
			if len(r) != len(header) {
				t.Fatalf("row %q, header %q", r, header)
			}
		}
	})
}
