package salesforce_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
)

// TestClient_BulkQuery_PagesThroughLocators reads 23 records in pages of
// 5 and checks every row arrives once, in order, with the job deleted
// afterwards.
func TestClient_BulkQuery_PagesThroughLocators(t *testing.T) {
	e := newEnv(t, envOpts{client: salesforce.ClientConfig{APIVersion: "62.0"}})
	ctx := testContext(t)
	for i := range 23 {
		if _, err := e.sim.Create("Account", map[string]any{"Name": fmt.Sprintf("Bulk, \"%02d\"", i), "NumberOfEmployees": float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]string
	pages := 0
	err := e.client.BulkQuery(ctx, "SELECT Name, NumberOfEmployees, Description FROM Account ORDER BY Name",
		salesforce.BulkQueryOptions{PageSize: 5, PollInitial: 10 * time.Millisecond}, func(header []string, rows [][]string) error {
			if strings.Join(header, ",") != "Name,NumberOfEmployees,Description" {
				t.Errorf("header %v", header)
			}
			pages++
			got = append(got, rows...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 5 || len(got) != 23 {
		t.Fatalf("%d pages, %d rows; want 5 pages, 23 rows", pages, len(got))
	}
	for i, row := range got {
		if row[0] != fmt.Sprintf("Bulk, \"%02d\"", i) || row[1] != fmt.Sprint(i) || row[2] != "" {
			t.Fatalf("row %d: %q", i, row)
		}
	}
	if n := e.rec.count(http.MethodDelete, "/services/data/v62.0/jobs/query/"); n != 1 {
		t.Errorf("%d DELETE of the finished job, want 1", n)
	}
}

// TestClient_BulkQuery_FailedJobIsAPermanentError makes the job end Failed
// and checks the error names the job's errorMessage and is not retried.
func TestClient_BulkQuery_FailedJobIsAPermanentError(t *testing.T) {
	e := newEnv(t, envOpts{client: salesforce.ClientConfig{APIVersion: "62.0"}, rec: func(r *recorder) {
		r.intercept = func(req *http.Request, base http.RoundTripper) (*http.Response, error, bool) {
			if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/jobs/query/") || strings.HasSuffix(req.URL.Path, "/results") {
				return nil, nil, false
			}
			body := `{"id":"750000000000001AAA","operation":"query","object":"Account","state":"Failed","errorMessage":"Query timed out"}`
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil, true
		}
	}})
	err := e.client.BulkQuery(testContext(t), "SELECT Id FROM Account", salesforce.BulkQueryOptions{PollInitial: time.Millisecond},
		func([]string, [][]string) error { t.Error("results read from a failed job"); return nil })
	if err == nil || connectorlib.IsRetryable(err) || !strings.Contains(err.Error(), "Failed: Query timed out") {
		t.Fatalf("error %v; want a permanent one with the job's message", err)
	}
}
