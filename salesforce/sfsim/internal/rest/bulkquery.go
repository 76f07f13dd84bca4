package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/soql"
)

// Bulk API 2.0 query (API 47.0 and later).
//
// The simulator runs a job's query when the job is created and keeps the
// result rows; the job answers UploadComplete on creation and JobComplete
// from the first poll on, so clients go through the same create, poll,
// read-pages sequence as against Salesforce. Result pages are CSV with a
// header row, every value quoted (RFC 4180: quotes doubled), null as an
// empty value, dates and datetimes in ISO 8601; the Sforce-Locator header
// names the next page and is the string "null" on the last one.
const (
	minBulkQueryAPI = 47
	// defaultQueryPage is the page of a results request without
	// maxRecords. [UNVERIFIED] Salesforce sizes pages by bytes (about 1 GB
	// of CSV); the simulator keeps pages small to stay light in memory.
	defaultQueryPage = 10000
)

// queryJob is a Bulk API 2.0 query job. Its fields are guarded by
// queryJobStore.mu; rows is immutable once the job exists.
type queryJob struct {
	id, operation, object, query, version string
	state, createdBy                      string
	created, modified                     time.Time
	header                                []string
	rows                                  [][]string
}

type queryJobStore struct {
	mu   sync.Mutex
	jobs map[string]*queryJob
}

func newQueryJobStore() *queryJobStore { return &queryJobStore{jobs: map[string]*queryJob{}} }

func (j *queryJob) info(full bool) object {
	o := object{
		{"id", j.id}, {"operation", j.operation}, {"object", j.object}, {"createdById", j.createdBy},
		{"createdDate", org.FormatDateTime(j.created)}, {"systemModstamp", org.FormatDateTime(j.modified)},
		{"state", j.state}, {"concurrencyMode", "Parallel"}, {"contentType", "CSV"},
		{"apiVersion", json.RawMessage(j.version)}, {"lineEnding", "LF"}, {"columnDelimiter", "COMMA"},
	}
	if full {
		processed := 0
		if j.state == stateJobComplete {
			processed = len(j.rows)
		}
		o = append(o, member{"jobType", "V2Query"}, member{"numberRecordsProcessed", processed},
			member{"retries", 0}, member{"totalProcessingTime", 0})
	}
	return o
}

// serveQueryJobs answers /jobs/query: POST creates a job, GET lists them.
func (h *Handler) serveQueryJobs(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minBulkQueryAPI {
		writeNotFound(w)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s := h.qjobs
		s.mu.Lock()
		records := make([]object, 0, len(s.jobs))
		for _, j := range s.jobs {
			records = append(records, j.info(true))
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, object{{"done", true}, {"records", records}, {"nextRecordsUrl", nil}})
	case http.MethodPost:
		h.createQueryJob(w, r, c)
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "POST")
	}
}

// createQueryJob answers POST /jobs/query: {"operation": "query" or
// "queryAll", "query": SOQL}. [UNVERIFIED: the wording of the validation
// errors.]
func (h *Handler) createQueryJob(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Operation       string `json:"operation"`
		Query           string `json:"query"`
		ContentType     string `json:"contentType"`
		ColumnDelimiter string `json:"columnDelimiter"`
		LineEnding      string `json:"lineEnding"`
	}
	if !decodeInto(w, r, &req) {
		return
	}
	bad := func(msg string) { writeJobError(w, http.StatusBadRequest, codeInvalidJob, msg) }
	switch {
	case req.Operation != "query" && req.Operation != "queryAll":
		bad(fmt.Sprintf("Invalid operation: '%s'. Valid values are query and queryAll", req.Operation))
		return
	case req.ContentType != "" && req.ContentType != "CSV":
		bad(fmt.Sprintf("Invalid contentType: '%s'. Only CSV is supported", req.ContentType))
		return
	case req.ColumnDelimiter != "" && req.ColumnDelimiter != "COMMA",
		req.LineEnding != "" && req.LineEnding != "LF":
		// The simulator writes the default format only.
		bad("The simulator supports columnDelimiter COMMA and lineEnding LF only")
		return
	}
	q, err := soql.Parse(req.Query)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	v := c.view()
	d, _ := v.describe(q.Object())
	if err := q.Bind(d); err != nil {
		writeQueryError(w, err)
		return
	}
	if q.IsCount() {
		writeErrors(w, http.StatusBadRequest, apiError{Message: "Aggregate queries are not supported in Bulk Query", ErrorCode: "API_ERROR"})
		return
	}
	fields := q.Fields()
	for _, name := range fields {
		if fl, ok := d.Field(name); ok && (fl.Type == "address" || fl.Type == "location") {
			writeErrors(w, http.StatusBadRequest, apiError{Message: "FeatureNotEnabled: Selecting compound data not supported in Bulk Query", ErrorCode: "API_ERROR"})
			return
		}
	}
	recs, oerr := v.records(d.Name)
	if oerr != nil {
		writeErrors(w, http.StatusBadRequest, recordError(oerr))
		return
	}
	in := make([]map[string]any, len(recs))
	for i, rec := range recs {
		in[i] = rec
	}
	matched := q.Run(in, h.now())
	header := make([]string, 0, len(fields))
	datetime := map[int]bool{}
	for _, name := range fields {
		if fl, ok := d.Field(name); ok {
			datetime[len(header)] = fl.Type == "datetime"
			header = append(header, fl.Name)
		}
	}
	rows := make([][]string, len(matched))
	for i, rec := range matched {
		row := make([]string, len(header))
		for k, name := range header {
			row[k] = csvValue(rec[name])
			if t, err := org.ParseDateTime(row[k]); err == nil && datetime[k] {
				// Bulk results write datetimes in UTC with a Z, where
				// REST writes +0000.
				row[k] = t.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		}
		rows[i] = row
	}
	now := h.now()
	s := h.qjobs
	s.mu.Lock()
	h.jobs.mu.Lock()
	id := h.jobs.newJobID() // one id sequence for ingest and query jobs
	h.jobs.mu.Unlock()
	j := &queryJob{
		id: id, operation: req.Operation, object: d.Name, query: req.Query, version: c.version,
		state: stateUploadComplete, createdBy: h.org.UserID(), created: now, modified: now,
		header: header, rows: rows,
	}
	s.jobs[j.id] = j
	info := j.info(false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

// csvValue renders a stored field value as a Bulk query result cell:
// null is empty, strings (dates and datetimes included) as stored,
// numbers and booleans as their JSON text.
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// lookupQueryJob returns a job under s.mu, or answers 404 and returns nil.
func (h *Handler) lookupQueryJob(w http.ResponseWriter, r *http.Request) *queryJob {
	j := h.qjobs.jobs[r.PathValue("id")]
	if j == nil {
		writeNotFound(w)
	}
	return j
}

// serveQueryJob answers /jobs/query/{id}: GET information (the job
// completes on its first poll), PATCH {"state":"Aborted"}, DELETE.
func (h *Handler) serveQueryJob(w http.ResponseWriter, r *http.Request, c *call) {
	patch, ok := readJobRequest(w, r, c, minBulkQueryAPI)
	if !ok {
		return
	}
	s := h.qjobs
	s.mu.Lock()
	defer s.mu.Unlock()
	j := h.lookupQueryJob(w, r)
	if j == nil {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if j.state == stateUploadComplete {
			j.state, j.modified = stateJobComplete, h.now()
		}
		writeJSON(w, http.StatusOK, j.info(true))
	case http.MethodDelete:
		if j.state == stateUploadComplete || j.state == stateInProgress {
			writeJobError(w, http.StatusConflict, codeInvalidJobState, fmt.Sprintf("Deleting a job in state %s is not allowed", j.state))
			return
		}
		delete(s.jobs, j.id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		switch {
		case patch.State != stateAborted:
			writeJobError(w, http.StatusBadRequest, codeInvalidJob, fmt.Sprintf("Invalid state: '%s'. Valid value is Aborted", patch.State))
			return
		case j.state != stateUploadComplete && j.state != stateInProgress:
			writeJobError(w, http.StatusConflict, codeInvalidJobState, fmt.Sprintf("Changing the state of a job from %s to %s is not allowed", j.state, patch.State))
			return
		}
		j.state, j.modified = stateAborted, h.now()
		writeJSON(w, http.StatusOK, j.info(false))
	}
}

// serveQueryResults answers GET /jobs/query/{id}/results?locator=&maxRecords=
// for a JobComplete job, with the same API version that created it (409
// otherwise, as Salesforce does).
func (h *Handler) serveQueryResults(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minBulkQueryAPI {
		writeNotFound(w)
		return
	}
	if !allowGet(w, r) {
		return
	}
	s := h.qjobs
	s.mu.Lock()
	j := h.lookupQueryJob(w, r)
	if j == nil {
		s.mu.Unlock()
		return
	}
	state, version, header, rows := j.state, j.version, j.header, j.rows
	s.mu.Unlock()
	if version != c.version {
		writeJobError(w, http.StatusConflict, codeInvalidJobState, "Use the API version that created the job to get its results")
		return
	}
	if state != stateJobComplete {
		writeJobError(w, http.StatusBadRequest, codeInvalidJobState, fmt.Sprintf("The results of a job in state %s are not available", state))
		return
	}
	size := defaultQueryPage
	if m := r.URL.Query().Get("maxRecords"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 {
			writeJobError(w, http.StatusBadRequest, codeInvalidJob, fmt.Sprintf("Invalid maxRecords: '%s'", m))
			return
		}
		size = n
	}
	offset := 0
	if loc := r.URL.Query().Get("locator"); loc != "" {
		n, err := strconv.ParseInt(loc, 36, 64)
		if err != nil || n < 0 || n > int64(len(rows)) {
			writeJobError(w, http.StatusBadRequest, codeInvalidJob, fmt.Sprintf("Invalid locator: '%s'", loc))
			return
		}
		offset = int(n)
	}
	end := min(offset+size, len(rows))
	next := "null"
	if end < len(rows) {
		next = strings.ToUpper(strconv.FormatInt(int64(end), 36))
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Sforce-Locator", next)
	w.Header().Set("Sforce-NumberOfRecords", strconv.Itoa(end-offset))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(formatCSV(header, rows[offset:end], ',', false))
}
