package rest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// runQueryJob creates a query job and polls it to a terminal state.
func (e *env) runQueryJob(t *testing.T, soql string) jobInfo {
	t.Helper()
	var job jobInfo
	e.do(http.MethodPost, v+"/jobs/query", map[string]any{"operation": "query", "query": soql}).want(t, http.StatusOK).decode(t, &job)
	if job.State != "UploadComplete" || job.Operation != "query" || job.Object != "Account" || !strings.HasPrefix(job.ID, "750") {
		t.Fatalf("created query job %+v", job)
	}
	var info jobInfo
	e.do(http.MethodGet, v+"/jobs/query/"+job.ID, nil).want(t, http.StatusOK).decode(t, &info)
	if info.State != "JobComplete" || info.JobType != "V2Query" {
		t.Fatalf("polled query job %+v", info)
	}
	return info
}

func TestBulkQuery_PagesByLocatorWithSalesforceCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(25, func(i int) map[string]any {
		f := map[string]any{"Name": fmt.Sprintf(`Acme "%02d", Inc`, i), "NumberOfEmployees": float64(i)}
		if i%2 == 0 {
			f["Description"] = "line one\nline two"
		}
		return f
	})
	job := e.runQueryJob(t, "SELECT Id, Name, NumberOfEmployees, Description, CreatedDate FROM Account ORDER BY Name")
	if job.NumberRecordsProcessed != 25 {
		t.Fatalf("numberRecordsProcessed %d, want 25", job.NumberRecordsProcessed)
	}
	var rows [][]string
	locator, pages := "", 0
	for {
		path := v + "/jobs/query/" + job.ID + "/results?maxRecords=10"
		if locator != "" {
			path += "&locator=" + locator
		}
		r := e.do(http.MethodGet, path, nil).want(t, http.StatusOK)
		pages++
		if ct := r.header.Get("Content-Type"); ct != "text/csv" {
			t.Fatalf("Content-Type %q", ct)
		}
		got := readCSV(t, r.body)
		if strings.Join(got[0], ",") != "Id,Name,NumberOfEmployees,Description,CreatedDate" {
			t.Fatalf("header %v", got[0])
		}
		if n := r.header.Get("Sforce-NumberOfRecords"); n != fmt.Sprint(len(got)-1) {
			t.Fatalf("Sforce-NumberOfRecords %s for %d rows", n, len(got)-1)
		}
		if !strings.HasPrefix(string(r.body), `"Id","Name"`) {
			t.Fatalf("values are not quoted: %.40s", r.body)
		}
		rows = append(rows, got[1:]...)
		locator = r.header.Get("Sforce-Locator")
		if locator == "null" {
			break
		}
		if pages > 3 {
			t.Fatalf("more than 3 pages of 10 for 25 records (locator %q)", locator)
		}
	}
	if pages != 3 || len(rows) != 25 {
		t.Fatalf("%d pages, %d rows; want 3 pages, 25 rows", pages, len(rows))
	}
	for i, row := range rows {
		if row[1] != fmt.Sprintf(`Acme "%02d", Inc`, i) || row[2] != fmt.Sprint(i) {
			t.Fatalf("row %d: %q", i, row)
		}
		if (i%2 == 0) != (row[3] == "line one\nline two") || (i%2 == 1 && row[3] != "") {
			t.Fatalf("row %d Description %q (null must be empty)", i, row[3])
		}
		if !strings.HasSuffix(row[4], ".000Z") || len(row[4]) != len("2024-01-02T03:04:05.000Z") {
			t.Fatalf("row %d CreatedDate %q, want ISO 8601 UTC with Z", i, row[4])
		}
	}
	// Salesforce's rules: results need the version that created the job;
	// a finished job cannot be aborted; deleting it makes it gone.
	e.do(http.MethodGet, "/services/data/v61.0/jobs/query/"+job.ID+"/results", nil).want(t, http.StatusConflict)
	e.do(http.MethodPatch, v+"/jobs/query/"+job.ID, map[string]any{"state": "Aborted"}).want(t, http.StatusConflict)
	e.do(http.MethodDelete, v+"/jobs/query/"+job.ID, nil).want(t, http.StatusNoContent)
	e.do(http.MethodGet, v+"/jobs/query/"+job.ID, nil).want(t, http.StatusNotFound)
}

func TestBulkQuery_AbortBeforeCompletionAndRejectedQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(3, func(i int) map[string]any { return map[string]any{"Name": fmt.Sprint(i)} })
	var job jobInfo
	e.do(http.MethodPost, v+"/jobs/query", map[string]any{"operation": "query", "query": "SELECT Id FROM Account"}).want(t, http.StatusOK).decode(t, &job)
	// Results before the job completes are refused.
	e.do(http.MethodGet, v+"/jobs/query/"+job.ID+"/results", nil).want(t, http.StatusBadRequest)
	var aborted jobInfo
	e.do(http.MethodPatch, v+"/jobs/query/"+job.ID, map[string]any{"state": "Aborted"}).want(t, http.StatusOK).decode(t, &aborted)
	var info jobInfo
	e.do(http.MethodGet, v+"/jobs/query/"+job.ID, nil).want(t, http.StatusOK).decode(t, &info)
	if aborted.State != "Aborted" || info.State != "Aborted" {
		t.Fatalf("aborted job: %+v, then %+v", aborted, info)
	}
	for _, q := range []string{"SELECT COUNT() FROM Account", "SELECT Id, BillingAddress FROM Account", "SELECT Nope FROM Account"} {
		errs := e.do(http.MethodPost, v+"/jobs/query", map[string]any{"operation": "query", "query": q}).want(t, http.StatusBadRequest).errorsOf(t)
		if errs[0]["message"] == "" {
			t.Fatalf("%s: %v", q, errs)
		}
	}
	e.do(http.MethodPost, v+"/jobs/query", map[string]any{"operation": "insert", "query": "SELECT Id FROM Account"}).want(t, http.StatusBadRequest)
	e.do(http.MethodPost, "/services/data/v46.0/jobs/query", map[string]any{"operation": "query", "query": "SELECT Id FROM Account"}).want(t, http.StatusNotFound)
}
