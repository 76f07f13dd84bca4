package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// BulkQueryOptions tunes BulkQuery.
type BulkQueryOptions struct {
	// PageSize is maxRecords of each results request; 0 lets Salesforce
	// choose.
	PageSize int
	// PollInitial is the first delay before polling the job's state; it
	// doubles up to 5 s. 0 means 100 ms.
	PollInitial time.Duration
	// All runs a queryAll job (deleted and archived records too).
	All bool
}

// bulkResultPage is one page of a query job's results: the CSV body and
// the headers that say where the next page is.
type bulkResultPage struct {
	body   []byte
	header http.Header
}

// BulkQuery runs soql as a Bulk API 2.0 query job: create it, poll its
// state with a growing delay until JobComplete, then read the CSV results
// page by page (Sforce-Locator, "null" after the last page), calling fn with
// the header row and each page's rows. Values are as Salesforce writes
// them: null is "", numbers, booleans, dates and datetimes are text.
//
// A job that ends Failed or Aborted is a permanent error carrying the
// job's errorMessage. An error from fn or ctx aborts the job (best effort);
// a finished job is deleted once read.
func (c *Client) BulkQuery(ctx context.Context, soql string, opts BulkQueryOptions, fn func(header []string, rows [][]string) error) error {
	op := "query"
	if opts.All {
		op = "queryAll"
	}
	var info jobInfo
	if err := c.Do(ctx, "POST", "/jobs/query", map[string]string{"operation": op, "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}, &info); err != nil {
		return fmt.Errorf("create bulk query job: %w", err)
	}
	if info.ID == "" {
		return connectorlib.Retryable(errors.New("create bulk query job: no job id in the answer"))
	}
	jobPath := "/jobs/query/" + url.PathEscape(info.ID)
	cleanup := func(state string) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if state != "" {
			_ = c.Do(actx, "PATCH", jobPath, map[string]string{"state": state}, nil)
		}
		_ = c.Do(actx, "DELETE", jobPath, nil, nil)
	}
	fail := func(err error) error {
		cleanup(JobAborted)
		return fmt.Errorf("bulk query job %s: %w", info.ID, err)
	}
	delay := opts.PollInitial
	if delay <= 0 {
		delay = 100 * time.Millisecond
	}
	for info.State != JobComplete {
		switch info.State {
		case JobFailed, JobAborted:
			cleanup("")
			return connectorlib.Permanent(fmt.Errorf("bulk query job %s ended %s: %s", info.ID, info.State, info.ErrorMessage))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, bulkPollMax)
		if err := c.Do(ctx, "GET", jobPath, nil, &info); err != nil {
			return fail(fmt.Errorf("poll: %w", err))
		}
	}
	locator := ""
	for {
		q := url.Values{}
		if locator != "" {
			q.Set("locator", locator)
		}
		if opts.PageSize > 0 {
			q.Set("maxRecords", strconv.Itoa(opts.PageSize))
		}
		path := c.dataPath(jobPath + "/results")
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var page bulkResultPage
		if err := c.call(ctx, "GET", path, nil, &page); err != nil {
			return fail(fmt.Errorf("read results: %w", err))
		}
		if len(bytes.TrimSpace(page.body)) > 0 {
			r := csv.NewReader(bytes.NewReader(page.body))
			r.ReuseRecord = false
			header, err := r.Read()
			if err != nil {
				return fail(connectorlib.Retryable(fmt.Errorf("parse results: %w", err)))
			}
			var rows [][]string
			for {
				row, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return fail(connectorlib.Retryable(fmt.Errorf("parse results: %w", err)))
				}
				rows = append(rows, row)
			}
			if err := fn(header, rows); err != nil {
				return fail(err)
			}
		}
		locator = page.header.Get("Sforce-Locator")
		if locator == "" || locator == "null" {
			break
		}
	}
	cleanup("")
	return nil
}
