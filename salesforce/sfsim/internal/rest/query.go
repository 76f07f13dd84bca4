package rest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/soql"
)

// Query paging. Salesforce returns 2,000 records per page by default and
// honours Sforce-Query-Options: batchSize=n between 200 and 2,000 (values
// outside are clamped: the header is only a hint).
const (
	defaultBatchSize = 2000
	minBatchSize     = 200
	maxBatchSize     = 2000
	// cursorTTL: Salesforce deletes a query cursor after 15 minutes of
	// inactivity.
	cursorTTL = 15 * time.Minute
	// maxCursors: a user may have 10 query cursors open; opening another
	// releases the oldest.
	maxCursors = 10
)

// queryResult is a page of query results.
type queryResult struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl,omitempty"`
	Records        []json.RawMessage `json:"records"`
}

// cursor holds the rendered records of a query that did not fit one page.
type cursor struct {
	records   []json.RawMessage
	batchSize int
	resource  string // "query" or "queryAll"
	lastUsed  time.Time
	created   uint64
}

// cursorStore keeps query cursors in memory.
type cursorStore struct {
	mu      sync.Mutex
	seq     uint64
	cursors map[string]*cursor
}

func newCursorStore() *cursorStore { return &cursorStore{cursors: map[string]*cursor{}} }

// add stores c and returns its locator, releasing expired cursors and, past
// maxCursors, the oldest.
func (s *cursorStore) add(c *cursor, now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	for len(s.cursors) >= maxCursors {
		var oldest string
		for k, v := range s.cursors {
			if oldest == "" || v.created < s.cursors[oldest].created {
				oldest = k
			}
		}
		delete(s.cursors, oldest)
	}
	s.seq++
	c.created, c.lastUsed = s.seq, now
	loc := newLocator()
	s.cursors[loc] = c
	return loc
}

// get returns a live cursor and marks it used.
func (s *cursorStore) get(loc string, now time.Time) (*cursor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	c, ok := s.cursors[loc]
	if ok {
		c.lastUsed = now
	}
	return c, ok
}

func (s *cursorStore) expire(now time.Time) {
	for k, c := range s.cursors {
		if now.Sub(c.lastUsed) >= cursorTTL {
			delete(s.cursors, k)
		}
	}
}

// newLocator returns a query locator shaped like Salesforce's: an 18
// character id with key prefix 01g.
func newLocator() string {
	id15 := "01g" + rand.Text()[:12]
	if id, err := org.NormalizeID(id15); err == nil {
		return id
	}
	return id15
}

// batchSize reads Sforce-Query-Options: batchSize=n.
func batchSize(r *http.Request, def int) int {
	for _, v := range r.Header.Values("Sforce-Query-Options") {
		for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(pair, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "batchSize") {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				continue
			}
			return min(max(n, minBatchSize), maxBatchSize)
		}
	}
	return def
}

// serveQuery answers GET /query?q= and /queryAll?q=.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, c *call) {
	if !allowGet(w, r) {
		return
	}
	resource := strings.TrimPrefix(r.URL.Path, "/")
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		writeErrors(w, http.StatusBadRequest, apiError{Message: "A query string has to be specified", ErrorCode: codeMalformedQuery})
		return
	}
	query, err := soql.Parse(q)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	v := c.view()
	d, _ := v.describe(query.Object())
	if err := query.Bind(d); err != nil {
		writeQueryError(w, err)
		return
	}
	recs, oerr := v.records(d.Name)
	if oerr != nil {
		writeErrors(w, http.StatusBadRequest, recordError(oerr))
		return
	}
	in := make([]map[string]any, len(recs))
	byID := make(map[string]org.Record, len(recs))
	for i, rec := range recs {
		in[i] = rec
		if id, ok := rec["Id"].(string); ok {
			byID[id] = rec
		}
	}
	rows := query.Run(in, h.now())
	if query.IsCount() {
		writeJSON(w, http.StatusOK, queryResult{TotalSize: len(rows), Done: true, Records: []json.RawMessage{}})
		return
	}
	fields := query.Fields()
	rendered := make([]json.RawMessage, len(rows))
	for i, row := range rows {
		src := org.Record(row)
		if id, ok := row["Id"].(string); ok && byID[id] != nil {
			src = byID[id] // compound fields need their components
		}
		b, err := marshal(renderRecord(d, src, c.version, fields))
		if err != nil {
			writeErrors(w, http.StatusInternalServerError, apiError{Message: err.Error(), ErrorCode: "UNKNOWN_EXCEPTION"})
			return
		}
		rendered[i] = b
	}
	size := batchSize(r, defaultBatchSize)
	res := queryResult{TotalSize: len(rendered), Done: true, Records: rendered}
	if len(rendered) > size {
		loc := h.cursors.add(&cursor{records: rendered, batchSize: size, resource: resource}, h.now())
		res.Records, res.Done = rendered[:size], false
		res.NextRecordsURL = nextRecordsURL(c.version, resource, loc, size)
	}
	writeJSON(w, http.StatusOK, res)
}

func nextRecordsURL(version, resource, loc string, offset int) string {
	return dataPrefix + "/v" + version + "/" + resource + "/" + loc + "-" + strconv.Itoa(offset)
}

// serveQueryMore answers GET /query/{locator}-{offset}.
func (h *Handler) serveQueryMore(w http.ResponseWriter, r *http.Request, c *call) {
	if !allowGet(w, r) {
		return
	}
	loc, offStr, _ := strings.Cut(r.PathValue("locator"), "-")
	offset, err := strconv.Atoi(offStr)
	cur, ok := h.cursors.get(loc, h.now())
	if err != nil || !ok || offset < 0 || offset > len(cur.records) {
		writeErrors(w, http.StatusBadRequest, apiError{Message: "invalid query locator", ErrorCode: codeInvalidQueryLocator})
		return
	}
	size := batchSize(r, cur.batchSize)
	end := min(offset+size, len(cur.records))
	res := queryResult{TotalSize: len(cur.records), Done: end == len(cur.records), Records: cur.records[offset:end]}
	if !res.Done {
		res.NextRecordsURL = nextRecordsURL(c.version, cur.resource, loc, end)
	}
	writeJSON(w, http.StatusOK, res)
}

// writeQueryError answers a SOQL error: 400 [{"message","errorCode"}].
func writeQueryError(w http.ResponseWriter, err error) {
	var qe *soql.Error
	if errors.As(err, &qe) {
		writeErrors(w, http.StatusBadRequest, apiError{Message: qe.Message, ErrorCode: qe.Code})
		return
	}
	writeErrors(w, http.StatusBadRequest, apiError{Message: err.Error(), ErrorCode: codeMalformedQuery})
}
