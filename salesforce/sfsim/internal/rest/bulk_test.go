package rest

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

type jobInfo struct {
	ID                     string  `json:"id"`
	Operation              string  `json:"operation"`
	Object                 string  `json:"object"`
	State                  string  `json:"state"`
	ExternalIDFieldName    string  `json:"externalIdFieldName"`
	APIVersion             float64 `json:"apiVersion"`
	ContentURL             string  `json:"contentUrl"`
	LineEnding             string  `json:"lineEnding"`
	ColumnDelimiter        string  `json:"columnDelimiter"`
	JobType                string  `json:"jobType"`
	NumberRecordsProcessed int     `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int     `json:"numberRecordsFailed"`
	ErrorMessage           string  `json:"errorMessage"`
}

// runJob creates a job, uploads data, closes it and waits for a terminal
// state.
func (e *env) runJob(t *testing.T, spec map[string]any, data string, headers ...string) jobInfo {
	t.Helper()
	var job jobInfo
	e.do(http.MethodPost, v+"/jobs/ingest", spec, headers...).want(t, http.StatusOK).decode(t, &job)
	if job.State != "Open" || job.ContentURL != "services/data/v62.0/jobs/ingest/"+job.ID+"/batches" || !strings.HasPrefix(job.ID, "750") {
		t.Fatalf("created job %+v", job)
	}
	e.do(http.MethodPut, v+"/jobs/ingest/"+job.ID+"/batches", data, "Content-Type", "text/csv").want(t, http.StatusCreated)
	var closed jobInfo
	e.do(http.MethodPatch, v+"/jobs/ingest/"+job.ID, map[string]any{"state": "UploadComplete"}).want(t, http.StatusOK).decode(t, &closed)
	if closed.State != "UploadComplete" && closed.State != "InProgress" && closed.State != "JobComplete" {
		t.Fatalf("closed job %+v", closed)
	}
	return e.waitJob(t, job.ID)
}

func (e *env) waitJob(t *testing.T, id string) jobInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var info jobInfo
		e.do(http.MethodGet, v+"/jobs/ingest/"+id, nil).want(t, http.StatusOK).decode(t, &info)
		switch info.State {
		case "JobComplete", "Failed", "Aborted":
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, info.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("result CSV %q: %v", body, err)
	}
	return rows
}

func TestBulk_Upsert1000WithOneBadRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	existing := e.seed(10, func(i int) map[string]any {
		return map[string]any{"Name": fmt.Sprintf("Old %d", i), "External_Id__c": fmt.Sprintf("K%04d", i)}
	})
	var b strings.Builder
	b.WriteString("External_Id__c,Name,NumberOfEmployees,Description\n")
	for i := range 1000 {
		name := fmt.Sprintf("Acme %d", i)
		if i == 500 {
			name = "" // no Name: the new record fails
		}
		fmt.Fprintf(&b, "K%04d,%s,%d,\"multi\nline, \"\"quoted\"\"\"\n", i, name, i)
	}
	info := e.runJob(t, map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "external_id__c", "lineEnding": "LF"},
		b.String(), "Sforce-Call-Options", "client=loader")
	if info.State != "JobComplete" || info.NumberRecordsProcessed != 1000 || info.NumberRecordsFailed != 1 ||
		info.ExternalIDFieldName != "External_Id__c" || info.JobType != "V2Ingest" || info.APIVersion != 62 {
		t.Fatalf("job %+v", info)
	}

	ok := readCSV(t, e.do(http.MethodGet, v+"/jobs/ingest/"+info.ID+"/successfulResults/", nil).want(t, http.StatusOK).body)
	if strings.Join(ok[0], ",") != "sf__Id,sf__Created,External_Id__c,Name,NumberOfEmployees,Description" || len(ok) != 1000 {
		t.Fatalf("successful results: header %v, %d rows", ok[0], len(ok)-1)
	}
	created := 0
	for _, row := range ok[1:] {
		if row[1] == "true" {
			created++
		}
		if row[5] != "multi\nline, \"quoted\"" {
			t.Fatalf("row values not echoed: %q", row)
		}
	}
	if created != 989 || ok[1][0] != existing[0] || ok[1][1] != "false" {
		t.Fatalf("%d created (want 989); first row %v", created, ok[1])
	}
	r := e.do(http.MethodGet, v+"/jobs/ingest/"+info.ID+"/failedResults", nil).want(t, http.StatusOK)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
	failed := readCSV(t, r.body)
	if len(failed) != 2 || strings.Join(failed[0], ",") != "sf__Id,sf__Error,External_Id__c,Name,NumberOfEmployees,Description" {
		t.Fatalf("failed results %v", failed)
	}
	if failed[1][0] != "" || failed[1][1] != "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --" || failed[1][2] != "K0500" {
		t.Fatalf("failed row %q", failed[1])
	}
	if !strings.HasPrefix(string(r.body), `"sf__Id","sf__Error",`) {
		t.Fatalf("result values are not quoted: %.40s", r.body)
	}
	if e.count("Account") != 999 {
		t.Fatalf("%d accounts, want 999", e.count("Account"))
	}
	commits := e.takeCommits()
	if len(commits) != 5 {
		t.Fatalf("%d commits, want 5 chunks of 200", len(commits))
	}
	for _, c := range commits {
		if c.Origin != "com/salesforce/api/bulkapi/62.0;client=loader" {
			t.Fatalf("origin %q", c.Origin)
		}
	}
	un := readCSV(t, e.do(http.MethodGet, v+"/jobs/ingest/"+info.ID+"/unprocessedrecords/", nil).want(t, http.StatusOK).body)
	if len(un) != 1 {
		t.Fatalf("unprocessed %v", un)
	}
}

func TestBulk_InsertUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	info := e.runJob(t, map[string]any{"object": "Contact", "operation": "insert", "lineEnding": "CRLF"},
		"LastName,FirstName,Email\r\nNg,Ann,ann@example.com\r\nLi,,\r\n")
	if info.State != "JobComplete" || info.NumberRecordsProcessed != 2 || info.NumberRecordsFailed != 0 || info.LineEnding != "CRLF" {
		t.Fatalf("insert %+v", info)
	}
	r := e.do(http.MethodGet, v+"/jobs/ingest/"+info.ID+"/successfulResults", nil).want(t, http.StatusOK)
	if !strings.Contains(string(r.body), "\r\n") {
		t.Fatalf("CRLF job results use %q", r.body)
	}
	rows := readCSV(t, r.body)
	id1, id2 := rows[1][0], rows[2][0]
	if rows[1][1] != "true" {
		t.Fatalf("insert results %v", rows)
	}
	upd := e.runJob(t, map[string]any{"object": "Contact", "operation": "update"},
		fmt.Sprintf("Id,Email,FirstName\n%s,#N/A,\n%s,li@example.com,Bo\n,x@example.com,\n", id1, id2))
	if upd.NumberRecordsProcessed != 3 || upd.NumberRecordsFailed != 1 {
		t.Fatalf("update %+v", upd)
	}
	c1, _ := e.org.Get("Contact", id1)
	c2, _ := e.org.Get("Contact", id2)
	if c1["Email"] != nil || c1["FirstName"] != "Ann" || c2["Email"] != "li@example.com" || c2["FirstName"] != "Bo" {
		t.Fatalf("after update %v %v", c1, c2)
	}
	failed := readCSV(t, e.do(http.MethodGet, v+"/jobs/ingest/"+upd.ID+"/failedResults", nil).body)
	if failed[1][1] != "MISSING_ARGUMENT:Id not specified in an update call:--" {
		t.Fatalf("update failure %q", failed[1])
	}
	del := e.runJob(t, map[string]any{"object": "Contact", "operation": "delete"}, "Id\n"+id1+"\n"+id2+"\n")
	if del.NumberRecordsProcessed != 2 || del.NumberRecordsFailed != 0 || e.count("Contact") != 0 {
		t.Fatalf("delete %+v", del)
	}
	commits := e.takeCommits()
	if last := commits[len(commits)-1]; len(last.Changes) != 1 || len(last.Changes[0].RecordIDs) != 2 {
		t.Fatalf("bulk delete commit %+v", last)
	}

	var list struct {
		Done    bool      `json:"done"`
		Records []jobInfo `json:"records"`
	}
	e.do(http.MethodGet, v+"/jobs/ingest", nil).want(t, http.StatusOK).decode(t, &list)
	if !list.Done || len(list.Records) != 3 {
		t.Fatalf("job list %+v", list)
	}
	e.do(http.MethodDelete, v+"/jobs/ingest/"+del.ID, nil).want(t, http.StatusNoContent)
	e.do(http.MethodGet, v+"/jobs/ingest/"+del.ID, nil).want(t, http.StatusNotFound)
}

func TestBulk_MalformedCSVFailsJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, lineEnding, data, wantMsg string
	}{
		{"unterminated quote", "LF", "Name\n\"Acme\n", "InvalidBatch : Failed to parse CSV"},
		{"column count", "LF", "Name,Phone\nAcme\n", "InvalidBatch : Failed to parse CSV"},
		{"unknown column", "LF", "Name,Nope__c\nAcme,1\n", "InvalidBatch : Field name not found : Nope__c"},
		{"CRLF data, LF job", "LF", "Name\r\nAcme\r\n", "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"},
		{"LF data, CRLF job", "CRLF", "Name\nAcme\n", "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF"},
		{"empty", "LF", "", "InvalidBatch : Empty CSV file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := e.runJob(t, map[string]any{"object": "Account", "operation": "insert", "lineEnding": tt.lineEnding}, tt.data)
			if info.State != "Failed" || !strings.HasPrefix(info.ErrorMessage, tt.wantMsg) || info.NumberRecordsProcessed != 0 {
				t.Fatalf("job %+v, want Failed with %q", info, tt.wantMsg)
			}
			un := e.do(http.MethodGet, v+"/jobs/ingest/"+info.ID+"/unprocessedrecords", nil).want(t, http.StatusOK)
			if string(un.body) != tt.data {
				t.Fatalf("unprocessed %q, want the upload", un.body)
			}
		})
	}
	if e.count("Account") != 0 {
		t.Fatal("a failed job wrote records")
	}
}

func TestBulk_JobErrorsAndStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, spec := range map[string]map[string]any{
		"bad operation":     {"object": "Account", "operation": "merge"},
		"no object":         {"operation": "insert"},
		"unknown object":    {"object": "Nope__c", "operation": "insert"},
		"upsert without id": {"object": "Account", "operation": "upsert"},
		"upsert bad field":  {"object": "Account", "operation": "upsert", "externalIdFieldName": "Phone"},
		"content type":      {"object": "Account", "operation": "insert", "contentType": "JSON"},
		"line ending":       {"object": "Account", "operation": "insert", "lineEnding": "CR"},
		"delimiter":         {"object": "Account", "operation": "insert", "columnDelimiter": "COLON"},
	} {
		r := e.do(http.MethodPost, v+"/jobs/ingest", spec)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"errorCode":"INVALIDJOB"`) {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	e.do(http.MethodPost, v+"/jobs/ingest", "nope").want(t, http.StatusBadRequest)
	e.do(http.MethodGet, v+"/jobs/ingest/750000000000000AAA", nil).want(t, http.StatusNotFound)

	var job jobInfo
	e.do(http.MethodPost, v+"/jobs/ingest", map[string]any{"object": "Account", "operation": "insert"}).want(t, http.StatusOK).decode(t, &job)
	e.do(http.MethodDelete, v+"/jobs/ingest/"+job.ID, nil).want(t, http.StatusConflict) // Open
	e.do(http.MethodPut, v+"/jobs/ingest/"+job.ID+"/batches", "Name\nA\n").want(t, http.StatusCreated)
	e.do(http.MethodPut, v+"/jobs/ingest/"+job.ID+"/batches", "Name\nB\n").want(t, http.StatusBadRequest)
	var aborted jobInfo
	e.do(http.MethodPatch, v+"/jobs/ingest/"+job.ID, map[string]any{"state": "Aborted"}).want(t, http.StatusOK).decode(t, &aborted)
	if aborted.State != "Aborted" {
		t.Fatalf("abort %+v", aborted)
	}
	e.do(http.MethodPatch, v+"/jobs/ingest/"+job.ID, map[string]any{"state": "UploadComplete"}).want(t, http.StatusConflict)
	e.do(http.MethodPatch, v+"/jobs/ingest/"+job.ID, map[string]any{"state": "Bogus"}).want(t, http.StatusBadRequest)
	e.do(http.MethodPut, v+"/jobs/ingest/"+job.ID+"/batches", "Name\nC\n").want(t, http.StatusConflict)
	if e.count("Account") != 0 {
		t.Fatal("an aborted job wrote records")
	}
	e.do(http.MethodDelete, v+"/jobs/ingest/"+job.ID, nil).want(t, http.StatusNoContent)

	big := strings.Repeat("x", maxUploadBytes+1)
	e.do(http.MethodPost, v+"/jobs/ingest", map[string]any{"object": "Account", "operation": "insert"}).want(t, http.StatusOK).decode(t, &job)
	e.do(http.MethodPut, v+"/jobs/ingest/"+job.ID+"/batches", big).want(t, http.StatusRequestEntityTooLarge)
	e.do(http.MethodGet, "/services/data/v40.0/jobs/ingest", nil).want(t, http.StatusNotFound)
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, lineEnding string
		delim                  rune
		want                   string // fmt of rows, or the error prefix
	}{
		{"simple", "A,B\n1,2\n3,4", "LF", ',', "[A B] [[1 2] [3 4]]"},
		{"quoted", "A,B\r\n\"x,\r\ny\",\"say \"\"hi\"\"\"\r\n", "CRLF", ',', "[A B] [[x,\r\ny say \"hi\"]]"},
		{"empty values", "A,B\n,\n", "LF", ',', "[A B] [[ ]]"},
		{"blank line, one column", "Name\nA\n\nB\n", "LF", ',', "[Name] [[A] [] [B]]"},
		{"blank line, two columns", "A,B\n1,2\n\n3,4\n", "LF", ',', "[A B] [[1 2] [3 4]]"},
		{"pipe", "A|B\n1|2\n", "LF", '|', "[A B] [[1 2]]"},
		{"bom", "\xef\xbb\xbfA\n1\n", "LF", ',', "[A] [[1]]"},
		{"stray quote", "A\nx\"y\n", "LF", ',', "InvalidBatch : Failed to parse CSV: row 2"},
		{"text after quote", "A\n\"x\"y\n", "LF", ',', "InvalidBatch : Failed to parse CSV: row 2"},
		{"unterminated", "A\n\"x\n", "LF", ',', "InvalidBatch : Failed to parse CSV: row 2"},
		{"field count", "A,B\n1\n", "LF", ',', "InvalidBatch : Failed to parse CSV: row 2 has 1 fields"},
		{"line ending", "A\r\n1\r\n", "LF", ',', "ClientInputError : LineEnding is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header, rows, msg := parseCSV([]byte(tt.data), tt.delim, tt.lineEnding)
			got := msg
			if msg == "" {
				got = fmt.Sprint(header, " ", rows)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
