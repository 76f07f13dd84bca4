package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Bulk API 2.0 ingest job states.
const (
	JobOpen           = "Open"
	JobUploadComplete = "UploadComplete"
	JobInProgress     = "InProgress"
	JobComplete       = "JobComplete"
	JobFailed         = "Failed"
	JobAborted        = "Aborted"
)

// BulkNull is the CSV value that sets a field to null in a Bulk API 2.0
// upload (an empty value leaves the field unchanged).
const BulkNull = "#N/A"

// IngestJob describes a Bulk API 2.0 ingest job.
type IngestJob struct {
	// Object is the sObject, for example Account.
	Object string `json:"object"`
	// Operation is insert, update, upsert, delete or hardDelete.
	Operation string `json:"operation"`
	// ExternalIDField is the external id field of an upsert.
	ExternalIDField string `json:"externalIdFieldName,omitempty"`
}

// IngestResults is what a finished ingest job reports: rows are the
// uploaded rows prefixed by sf__Id and sf__Created (Successful) or sf__Id
// and sf__Error (Failed); Unprocessed rows are as uploaded. Header holds
// each set's column names.
type IngestResults struct {
	State                                             string
	SuccessfulHeader, FailedHeader, UnprocessedHeader []string
	Successful, Failed, Unprocessed                   [][]string
	// Calls counts the API requests the job took.
	Calls int
}

// jobInfo is the part of a job's JSON the client reads.
type jobInfo struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	ErrorMessage string `json:"errorMessage"`
}

// bulkPollMax caps the delay between two job state polls; every poll is an
// API request, so the delay grows from pollInitial while the job runs.
const bulkPollMax = 5 * time.Second

// BulkIngest runs one Bulk API 2.0 ingest job: create it, upload header
// and rows as one CSV (LF line endings), mark the upload complete, poll
// until the job ends (the first poll after pollInitial, then doubling up to
// 5 s), and read the successful, failed and unprocessed results. Values
// are sent as they are: BulkNull nulls a field, "" leaves it unchanged.
//
// A job that ends Failed or Aborted is still returned with its results
// (records it did not reach are Unprocessed). An error means the job's
// outcome is unknown; if the job was created it is aborted, best effort.
func (c *Client) BulkIngest(ctx context.Context, job IngestJob, header []string, rows [][]string, pollInitial time.Duration) (*IngestResults, error) {
	res := &IngestResults{}
	var info jobInfo
	body := map[string]string{"object": job.Object, "operation": job.Operation, "contentType": "CSV", "lineEnding": "LF"}
	if job.ExternalIDField != "" {
		body["externalIdFieldName"] = job.ExternalIDField
	}
	res.Calls++
	if err := c.Do(ctx, "POST", "/jobs/ingest", body, &info); err != nil {
		return nil, fmt.Errorf("create %s %s job: %w", job.Operation, job.Object, err)
	}
	if info.ID == "" {
		return nil, connectorlib.Retryable(fmt.Errorf("create %s %s job: no job id in the answer", job.Operation, job.Object))
	}
	jobPath := "/jobs/ingest/" + url.PathEscape(info.ID)
	abort := func(err error) (*IngestResults, error) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Do(actx, "PATCH", jobPath, map[string]string{"state": JobAborted}, nil)
		return nil, fmt.Errorf("bulk job %s: %w", info.ID, err)
	}
	var csvBody bytes.Buffer
	w := csv.NewWriter(&csvBody)
	if err := w.Write(header); err != nil {
		return abort(connectorlib.Permanent(err))
	}
	if err := w.WriteAll(rows); err != nil {
		return abort(connectorlib.Permanent(err))
	}
	res.Calls++
	if err := c.callContent(ctx, "PUT", c.dataPath(jobPath+"/batches"), "text/csv", csvBody.Bytes(), nil); err != nil {
		return abort(fmt.Errorf("upload: %w", err))
	}
	res.Calls++
	if err := c.Do(ctx, "PATCH", jobPath, map[string]string{"state": JobUploadComplete}, nil); err != nil {
		return abort(fmt.Errorf("close: %w", err))
	}
	delay := pollInitial
	if delay <= 0 {
		delay = 100 * time.Millisecond
	}
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return abort(ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, bulkPollMax)
		res.Calls++
		if err := c.Do(ctx, "GET", jobPath, nil, &info); err != nil {
			return abort(fmt.Errorf("poll: %w", err))
		}
		if info.State == JobComplete || info.State == JobFailed || info.State == JobAborted {
			break
		}
	}
	res.State = info.State
	for _, part := range []struct {
		name   string
		header *[]string
		rows   *[][]string
	}{
		{"successfulResults", &res.SuccessfulHeader, &res.Successful},
		{"failedResults", &res.FailedHeader, &res.Failed},
		{"unprocessedrecords", &res.UnprocessedHeader, &res.Unprocessed},
	} {
		var raw []byte
		res.Calls++
		if err := c.Do(ctx, "GET", jobPath+"/"+part.name, nil, &raw); err != nil {
			return nil, fmt.Errorf("bulk job %s: read %s: %w", info.ID, part.name, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		r := csv.NewReader(bytes.NewReader(raw))
		r.FieldsPerRecord = -1
		all, err := r.ReadAll()
		if err != nil {
			return nil, connectorlib.Retryable(fmt.Errorf("bulk job %s: parse %s: %w", info.ID, part.name, err))
		}
		if len(all) > 0 {
			*part.header, *part.rows = all[0], all[1:]
		}
	}
	return res, nil
}
