package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// Bulk API 2.0 ingest.
const (
	// maxUploadBytes caps one job's CSV upload. Salesforce accepts 150 MB
	// (base64-encoded; about 100 MB raw); the simulator keeps jobs in
	// memory and stops at 20 MiB.
	maxUploadBytes = 20 << 20
	// bulkChunk is how many records Salesforce processes per transaction.
	bulkChunk = 200
	// jobRetention: jobs in a terminal state are deleted after 7 days.
	jobRetention = 7 * 24 * time.Hour
	minBulkAPI   = 41
)

// msgStopped is the errorMessage of jobs cut short by Handler.Close.
const msgStopped = "The simulator stopped before the job finished"

// Job states.
const (
	stateOpen           = "Open"
	stateUploadComplete = "UploadComplete"
	stateInProgress     = "InProgress"
	stateJobComplete    = "JobComplete"
	stateFailed         = "Failed"
	stateAborted        = "Aborted"
)

// delimiters maps columnDelimiter values to characters.
var delimiters = map[string]rune{"COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`'}

var bulkOperations = map[string]bool{"insert": true, "update": true, "upsert": true, "delete": true, "hardDelete": true}

// job is an ingest job. Its fields are guarded by jobStore.mu.
type job struct {
	id, object, operation, extField string
	lineEnding, delimiter, version  string
	state, errorMessage             string
	createdBy                       string
	created, modified               time.Time
	origin                          org.Origin
	data                            []byte
	uploaded, deleted               bool
	processed, failed               int
	processingMS                    int64
	header                          []string   // CSV header as uploaded
	success, failures               [][]string // result rows
	unprocessed                     [][]string // rows not processed (abort)
	unprocessedRaw                  bool       // unprocessed is the whole upload (job failed before processing)
}

type jobStore struct {
	mu     sync.Mutex
	seq    uint64
	jobs   map[string]*job
	closed bool // set by Handler.Close; no processing starts afterwards
}

func newJobStore() *jobStore { return &jobStore{jobs: map[string]*job{}} }

// newJobID returns an 18-character id with the job key prefix 750.
func (s *jobStore) newJobID() string {
	s.seq++
	n := s.seq
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [9]byte
	for i := 8; i >= 0; i-- {
		b[i] = digits[n%62]
		n /= 62
	}
	id, _ := org.NormalizeID("7508a0" + string(b[:]))
	return id
}

// expire drops terminal jobs older than jobRetention. s.mu must be held.
func (s *jobStore) expire(now time.Time) {
	for id, j := range s.jobs {
		switch j.state {
		case stateJobComplete, stateFailed, stateAborted:
			if now.Sub(j.modified) > jobRetention {
				delete(s.jobs, id)
			}
		}
	}
}

// info renders a job's information. full adds the counters GET returns.
func (j *job) info(full bool) object {
	o := object{
		{"id", j.id}, {"operation", j.operation}, {"object", j.object}, {"createdById", j.createdBy},
		{"createdDate", org.FormatDateTime(j.created)}, {"systemModstamp", org.FormatDateTime(j.modified)},
		{"state", j.state},
	}
	if j.extField != "" {
		o = append(o, member{"externalIdFieldName", j.extField})
	}
	o = append(o,
		member{"concurrencyMode", "Parallel"}, member{"contentType", "CSV"},
		member{"apiVersion", json.RawMessage(j.version)}, member{"contentUrl", "services/data/v" + j.version + "/jobs/ingest/" + j.id + "/batches"},
		member{"lineEnding", j.lineEnding}, member{"columnDelimiter", j.delimiter},
	)
	if !full {
		return o
	}
	o = append(o,
		member{"jobType", "V2Ingest"},
		member{"numberRecordsProcessed", j.processed}, member{"numberRecordsFailed", j.failed},
		member{"retries", 0}, member{"totalProcessingTime", j.processingMS},
		member{"apiActiveProcessingTime", j.processingMS}, member{"apexProcessingTime", 0},
	)
	if j.errorMessage != "" {
		o = append(o, member{"errorMessage", j.errorMessage})
	}
	return o
}

func writeJobError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []codeFirstError{{ErrorCode: code, Message: msg}})
}

// serveJobs answers /jobs/ingest: POST creates a job, GET lists them.
func (h *Handler) serveJobs(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minBulkAPI {
		writeNotFound(w)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		now := h.now()
		s := h.jobs
		s.mu.Lock()
		s.expire(now)
		var list []*job
		for _, j := range s.jobs {
			if !j.deleted {
				list = append(list, j)
			}
		}
		slices.SortFunc(list, func(a, b *job) int { return strings.Compare(a.id, b.id) })
		records := make([]object, len(list))
		for i, j := range list {
			records[i] = j.info(true)
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, object{{"done", true}, {"records", records}, {"nextRecordsUrl", nil}})
	case http.MethodPost:
		h.createJob(w, r, c)
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "POST")
	}
}

type jobRequest struct {
	Object              string `json:"object"`
	Operation           string `json:"operation"`
	ExternalIDFieldName string `json:"externalIdFieldName"`
	ContentType         string `json:"contentType"`
	LineEnding          string `json:"lineEnding"`
	ColumnDelimiter     string `json:"columnDelimiter"`
	AssignmentRuleID    string `json:"assignmentRuleId"`
}

// createJob answers POST /jobs/ingest. [UNVERIFIED: the wording of the
// validation errors, except the upsert one.]
func (h *Handler) createJob(w http.ResponseWriter, r *http.Request, c *call) {
	var req jobRequest
	if !decodeInto(w, r, &req) {
		return
	}
	bad := func(msg string) { writeJobError(w, http.StatusBadRequest, codeInvalidJob, msg) }
	if !bulkOperations[req.Operation] {
		bad(fmt.Sprintf("Invalid operation: '%s'. Valid values are insert, update, upsert, delete, hardDelete", req.Operation))
		return
	}
	if req.Object == "" {
		bad("object is required")
		return
	}
	d, ok := c.view().describe(req.Object)
	if !ok {
		bad(fmt.Sprintf("sObject type '%s' is not supported.", req.Object))
		return
	}
	if req.ContentType == "" {
		req.ContentType = "CSV"
	}
	if req.ContentType != "CSV" {
		bad(fmt.Sprintf("Invalid contentType: '%s'. Only CSV is supported", req.ContentType))
		return
	}
	if req.LineEnding == "" {
		req.LineEnding = "LF"
	}
	if req.LineEnding != "LF" && req.LineEnding != "CRLF" {
		bad(fmt.Sprintf("Invalid lineEnding: '%s'. Valid values are LF and CRLF", req.LineEnding))
		return
	}
	if req.ColumnDelimiter == "" {
		req.ColumnDelimiter = "COMMA"
	}
	if _, ok := delimiters[req.ColumnDelimiter]; !ok {
		bad(fmt.Sprintf("Invalid columnDelimiter: '%s'", req.ColumnDelimiter))
		return
	}
	ext := ""
	if req.Operation == "upsert" {
		if req.ExternalIDFieldName == "" {
			bad(fmt.Sprintf("External ID was blank for %s. An External ID must be specified for upsert.", d.Name))
			return
		}
		fl, ok := d.Field(req.ExternalIDFieldName)
		if !ok || !(fl.ExternalID || fl.IDLookup) {
			bad(fmt.Sprintf("The field %s is not an external ID field of %s", req.ExternalIDFieldName, d.Name))
			return
		}
		ext = fl.Name
	}
	now := h.now()
	s := h.jobs
	s.mu.Lock()
	s.expire(now)
	j := &job{
		id: s.newJobID(), object: d.Name, operation: req.Operation, extField: ext,
		lineEnding: req.LineEnding, delimiter: req.ColumnDelimiter, version: c.version,
		state: stateOpen, createdBy: h.org.UserID(), created: now, modified: now,
		origin: org.Origin{API: "bulkapi", Version: c.version, Client: c.origin.Client},
	}
	s.jobs[j.id] = j
	info := j.info(false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

// lookupJob returns a job under s.mu, or answers 404 and returns nil.
func (h *Handler) lookupJob(w http.ResponseWriter, r *http.Request) *job {
	h.jobs.expire(h.now())
	j := h.jobs.jobs[r.PathValue("id")]
	if j == nil || j.deleted {
		writeNotFound(w)
		return nil
	}
	return j
}

// jobPatch is the body of a PATCH to a Bulk 2.0 job.
type jobPatch struct {
	State string `json:"state"`
}

// readJobRequest checks what the ingest and query job resources share: the API
// version (below min the resource does not exist), the method, and a
// PATCH's body. It answers the request and returns false when it fails.
func readJobRequest(w http.ResponseWriter, r *http.Request, c *call, min int) (jobPatch, bool) {
	var patch jobPatch
	if c.major < min {
		writeNotFound(w)
		return patch, false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	case http.MethodPatch:
		if !decodeInto(w, r, &patch) {
			return patch, false
		}
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "PATCH", "DELETE")
		return patch, false
	}
	return patch, true
}

// serveJob answers /jobs/ingest/{id}: GET information, PATCH state
// (UploadComplete starts processing; Aborted stops it), DELETE.
func (h *Handler) serveJob(w http.ResponseWriter, r *http.Request, c *call) {
	patch, ok := readJobRequest(w, r, c, minBulkAPI)
	if !ok {
		return
	}
	s := h.jobs
	s.mu.Lock()
	defer s.mu.Unlock()
	j := h.lookupJob(w, r)
	if j == nil {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, j.info(true))
	case http.MethodDelete:
		switch j.state {
		case stateUploadComplete, stateJobComplete, stateAborted, stateFailed:
			j.deleted = true
			delete(s.jobs, j.id)
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJobError(w, http.StatusConflict, codeInvalidJobState, fmt.Sprintf("Deleting a job in state %s is not allowed", j.state))
		}
	case http.MethodPatch:
		now := h.now()
		switch {
		case patch.State == stateUploadComplete && j.state == stateOpen:
			j.state, j.modified = stateUploadComplete, now
			if s.closed {
				j.state, j.errorMessage = stateFailed, msgStopped
				break
			}
			// Invariant: wg.Add happens under s.mu before Close sets
			// s.closed, so it never races with Close's wg.Wait.
			h.wg.Add(1)
			go h.process(j)
		case patch.State == stateAborted && (j.state == stateOpen || j.state == stateUploadComplete || j.state == stateInProgress):
			j.state, j.modified = stateAborted, now
		case patch.State == stateUploadComplete || patch.State == stateAborted:
			writeJobError(w, http.StatusConflict, codeInvalidJobState, fmt.Sprintf("Changing the state of a job from %s to %s is not allowed", j.state, patch.State))
			return
		default:
			writeJobError(w, http.StatusBadRequest, codeInvalidJob, fmt.Sprintf("Invalid state: '%s'. Valid values are UploadComplete and Aborted", patch.State))
			return
		}
		writeJSON(w, http.StatusOK, j.info(false))
	}
}

// serveJobUpload answers PUT /jobs/ingest/{id}/batches: the job's CSV data,
// once per job, while it is Open.
func (h *Handler) serveJobUpload(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minBulkAPI {
		writeNotFound(w)
		return
	}
	if r.Method != http.MethodPut {
		writeMethodNotAllowed(w, r, "PUT")
		return
	}
	data, ok := readBody(w, r, maxUploadBytes)
	if !ok {
		return
	}
	s := h.jobs
	s.mu.Lock()
	defer s.mu.Unlock()
	j := h.lookupJob(w, r)
	if j == nil {
		return
	}
	if j.state != stateOpen {
		writeJobError(w, http.StatusConflict, codeInvalidJobState, fmt.Sprintf("Uploading data to a job in state %s is not allowed", j.state))
		return
	}
	if j.uploaded {
		// [UNVERIFIED] Bulk API 2.0 takes one upload per job; jsforce
		// uploads once.
		writeJobError(w, http.StatusBadRequest, codeInvalidJob, "Data was already uploaded for this job; a job takes one upload")
		return
	}
	j.data, j.uploaded, j.modified = data, true, h.now()
	w.WriteHeader(http.StatusCreated)
}

// serveJobResults answers GET .../successfulResults, .../failedResults and
// .../unprocessedrecords as CSV with the job's delimiter and line ending.
func (h *Handler) serveJobResults(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minBulkAPI {
		writeNotFound(w)
		return
	}
	if !allowGet(w, r) {
		return
	}
	s := h.jobs
	s.mu.Lock()
	j := h.lookupJob(w, r)
	if j == nil {
		s.mu.Unlock()
		return
	}
	kind := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	var header []string
	var rows [][]string
	var raw []byte
	switch kind {
	case "successfulResults":
		header, rows = append([]string{"sf__Id", "sf__Created"}, j.header...), slices.Clone(j.success)
	case "failedResults":
		header, rows = append([]string{"sf__Id", "sf__Error"}, j.header...), slices.Clone(j.failures)
	default:
		if j.unprocessedRaw {
			raw = j.data
		} else {
			header, rows = j.header, slices.Clone(j.unprocessed)
		}
	}
	delim, crlf := delimiters[j.delimiter], j.lineEnding == "CRLF"
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/csv")
	w.WriteHeader(http.StatusOK)
	if raw != nil {
		_, _ = w.Write(raw)
		return
	}
	if header == nil {
		return
	}
	_, _ = w.Write(formatCSV(header, rows, delim, crlf))
}

// formatCSV writes a result CSV with every value quoted, as Salesforce's
// result files are.
func formatCSV(header []string, rows [][]string, delim rune, crlf bool) []byte {
	var b strings.Builder
	eol := "\n"
	if crlf {
		eol = "\r\n"
	}
	line := func(vals []string) {
		for i, v := range vals {
			if i > 0 {
				b.WriteRune(delim)
			}
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(v, `"`, `""`))
			b.WriteByte('"')
		}
		b.WriteString(eol)
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	return []byte(b.String())
}

// bulkError formats a record error as sf__Error does:
// CODE:message:field1,field2 -- (or CODE:message:-- without fields).
func bulkError(e *org.Error) string {
	f := "--"
	if len(e.Fields) > 0 {
		f = strings.Join(e.Fields, ",") + " --"
	}
	return e.Code + ":" + e.Message + ":" + f
}
