package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// sObject Collections limits: 200 records per write, 2,000 ids per
// retrieve. Collections need API 42.0; the upsert collection 46.0.
const (
	maxCollectionRecords = 200
	maxRetrieveIDs       = 2000
	minCollectionsAPI    = 42
	minUpsertAPI         = 46
)

// collectionRequest is the body of a collection create, update or upsert.
type collectionRequest struct {
	AllOrNone bool              `json:"allOrNone"`
	Records   []json.RawMessage `json:"records"`
}

// collectionResult is one record's SaveResult (UpsertResult with created).
type collectionResult struct {
	ID      string            `json:"id,omitempty"`
	Success bool              `json:"success"`
	Errors  []collectionError `json:"errors"`
	Created *bool             `json:"created,omitempty"`
}

// collectionOp performs one record's operation; id is reported on failure
// too when known (updates, deletes).
type collectionOp func(s *txState, i int) (id string, created *bool, err *org.Error)

// runCollection runs op for n records in one transaction, so that equal
// changes merge into one change event, and applies allOrNone: on any
// failure the records that succeeded are rolled back and reported
// ALL_OR_NONE_OPERATION_ROLLED_BACK.
//
// insert tells that the records are new, so rolled back ones lose their id.
func (c *call) runCollection(n int, allOrNone, insert bool, op collectionOp) []collectionResult {
	allOrNone = allOrNone || c.allOrNone
	results := make([]collectionResult, n)
	failed := false
	c.inTx(func(s *txState) {
		sp := 0
		if s.tx != nil {
			sp = s.tx.Savepoint()
		}
		for i := range n {
			id, created, err := op(s, i)
			if err != nil {
				failed = true
				results[i] = collectionResult{ID: id, Errors: []collectionError{toCollectionError(err)}, Created: created}
				continue
			}
			results[i] = collectionResult{ID: id, Success: true, Errors: []collectionError{}, Created: created}
		}
		if !failed || !allOrNone {
			return
		}
		if s.tx != nil {
			if c.shared == nil {
				s.finish(false)
			} else {
				s.tx.RollbackTo(sp)
			}
		}
		for i := range results {
			if results[i].Success {
				id, created := results[i].ID, results[i].Created
				if insert || created != nil && *created {
					id = "" // the record no longer exists
				}
				if created != nil {
					created = new(bool)
				}
				results[i] = collectionResult{ID: id, Errors: []collectionError{{StatusCode: codeRolledBack, Message: msgRecordRollback, Fields: []string{}}}, Created: created}
			}
		}
	})
	if failed {
		c.recordFailed = true
	}
	return results
}

// decodeRecords parses collection records as JSON objects.
func decodeRecords(w http.ResponseWriter, raw []json.RawMessage) ([]map[string]any, bool) {
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		v, err := decodeJSON(r)
		if err != nil {
			writeJSONParserError(w, jsonErrorMessage(err))
			return nil, false
		}
		m, ok := v.(map[string]any)
		if !ok {
			writeJSONParserError(w, fmt.Sprintf("Cannot deserialize instance of SObject from %s value at [line:1, column:1]", jsonToken(v)))
			return nil, false
		}
		out[i] = m
	}
	return out, true
}

// recordType returns attributes.type of a collection record.
func recordType(rec map[string]any) string {
	for k, v := range rec {
		if strings.EqualFold(k, "attributes") {
			if a, ok := v.(map[string]any); ok {
				s, _ := a["type"].(string)
				return s
			}
		}
	}
	return ""
}

// takeID removes and returns a record's Id field.
func takeID(fields map[string]any) (string, bool) {
	for k, v := range fields {
		if strings.EqualFold(k, "Id") {
			delete(fields, k)
			s, ok := v.(string)
			return s, ok && s != ""
		}
	}
	return "", false
}

func unsupportedType(typ string) *org.Error {
	return &org.Error{Code: codeInvalidType, Message: fmt.Sprintf("sObject type '%s' is not supported.", typ), Fields: []string{}}
}

// readCollection reads and checks a collection write body.
func readCollection(w http.ResponseWriter, r *http.Request) (collectionRequest, []map[string]any, bool) {
	var req collectionRequest
	if !decodeInto(w, r, &req) {
		return req, nil, false
	}
	if len(req.Records) > maxCollectionRecords {
		writeErrors(w, http.StatusBadRequest, apiError{Message: msgIDLimit, ErrorCode: codeExceededIDLimit})
		return req, nil, false
	}
	recs, ok := decodeRecords(w, req.Records)
	return req, recs, ok
}

// serveCollection answers /composite/sobjects: POST creates, PATCH
// updates, DELETE ?ids= deletes, up to 200 records in one transaction.
func (h *Handler) serveCollection(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minCollectionsAPI {
		writeNotFound(w)
		return
	}
	switch r.Method {
	case http.MethodPost:
		req, recs, ok := readCollection(w, r)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, c.runCollection(len(recs), req.AllOrNone, true, func(s *txState, i int) (string, *bool, *org.Error) {
			return c.collectionCreate(s, recs[i])
		}))
	case http.MethodPatch:
		req, recs, ok := readCollection(w, r)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, c.runCollection(len(recs), req.AllOrNone, false, func(s *txState, i int) (string, *bool, *org.Error) {
			return c.collectionUpdate(s, recs[i])
		}))
	case http.MethodDelete:
		q := r.URL.Query()
		var ids []string
		for _, id := range strings.Split(q.Get("ids"), ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			writeErrors(w, http.StatusBadRequest, apiError{Message: "The ids parameter is required", ErrorCode: codeMissingArgument})
			return
		}
		if len(ids) > maxCollectionRecords {
			writeErrors(w, http.StatusBadRequest, apiError{Message: msgIDLimit, ErrorCode: codeExceededIDLimit})
			return
		}
		allOrNone := strings.EqualFold(q.Get("allOrNone"), "true")
		writeJSON(w, http.StatusOK, c.runCollection(len(ids), allOrNone, false, func(s *txState, i int) (string, *bool, *org.Error) {
			return c.collectionDelete(s, ids[i])
		}))
	default:
		writeMethodNotAllowed(w, r, "POST", "PATCH", "DELETE")
	}
}

func (c *call) collectionCreate(s *txState, rec map[string]any) (string, *bool, *org.Error) {
	typ := recordType(rec)
	if typ == "" {
		return "", nil, &org.Error{Code: codeInvalidType, Message: "Each record must specify its type in attributes.type", Fields: []string{}}
	}
	fields := recordFields(rec)
	if id, err, handled := c.publish(typ, fields, s.tx != nil); handled {
		return id, nil, err
	}
	d, ok := s.view().describe(typ)
	if !ok {
		return "", nil, unsupportedType(typ)
	}
	if err := idInInsert(fields); err != nil {
		return "", nil, err
	}
	id, err := s.begin().Create(d.Name, withoutNullID(fields))
	return id, nil, err
}

func (c *call) collectionUpdate(s *txState, rec map[string]any) (string, *bool, *org.Error) {
	fields := recordFields(rec)
	id, ok := takeID(fields)
	if !ok {
		return "", nil, &org.Error{Code: codeMissingArgument, Message: "Id not specified in an update call", Fields: []string{}}
	}
	v := s.view()
	typ := recordType(rec)
	if typ == "" {
		typ, _ = v.objectOfID(id)
	}
	d, found := v.describe(typ)
	if !found {
		if typ == "" {
			return id, nil, &org.Error{Code: codeMalformedID, Message: "malformed id " + id, Fields: []string{}}
		}
		return id, nil, unsupportedType(typ)
	}
	if err := malformedID(d, id); err != nil {
		return id, nil, err
	}
	nid, _ := org.NormalizeID(id)
	return nid, nil, s.begin().Update(d.Name, nid, fields)
}

func (c *call) collectionDelete(s *txState, id string) (string, *bool, *org.Error) {
	nid, err := org.NormalizeID(id)
	if err != nil {
		return id, nil, &org.Error{Code: codeMalformedID, Message: "malformed id " + id, Fields: []string{}}
	}
	typ, ok := s.view().objectOfID(nid)
	if !ok {
		return nid, nil, &org.Error{Code: org.CodeInvalidCrossReference, Message: "invalid cross reference id", Fields: []string{}}
	}
	if oerr := s.begin().Delete(typ, nid); oerr != nil {
		if oerr.Code == org.CodeNotFound {
			oerr = &org.Error{Code: org.CodeInvalidCrossReference, Message: "invalid cross reference id", Fields: []string{}}
		}
		return nid, nil, oerr
	}
	return nid, nil, nil
}

// serveCollectionRetrieve answers /composite/sobjects/{type}: GET
// ?ids=&fields= and POST {"ids","fields"} (jsforce's retrieve of several
// ids). Ids that match no record give null.
func (h *Handler) serveCollectionRetrieve(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minCollectionsAPI {
		writeNotFound(w)
		return
	}
	var ids, fields []string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		ids, fields = splitList(q.Get("ids")), splitList(q.Get("fields"))
	case http.MethodPost:
		var body struct {
			IDs    []string `json:"ids"`
			Fields []string `json:"fields"`
		}
		if !decodeInto(w, r, &body) {
			return
		}
		ids, fields = body.IDs, body.Fields
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "POST")
		return
	}
	v := c.view()
	d, ok := v.describe(r.PathValue("type"))
	if !ok {
		writeNotFound(w)
		return
	}
	if len(ids) == 0 || len(fields) == 0 {
		writeErrors(w, http.StatusBadRequest, apiError{Message: "Both ids and fields are required", ErrorCode: codeMissingArgument})
		return
	}
	if len(ids) > maxRetrieveIDs {
		writeErrors(w, http.StatusBadRequest, apiError{Message: fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", maxRetrieveIDs), ErrorCode: codeExceededIDLimit})
		return
	}
	canon := make([]string, len(fields))
	for i, f := range fields {
		fl, ok := d.Field(f)
		if !ok {
			writeErrors(w, http.StatusBadRequest, noSuchColumn(f, d.Name))
			return
		}
		canon[i] = fl.Name
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		if rec, err := v.get(d.Name, id); err == nil {
			out[i] = renderRecord(d, rec, c.version, canon)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveCollectionUpsert answers PATCH /composite/sobjects/{type}/{field}:
// up to 200 records of one type upserted by an external id field.
func (h *Handler) serveCollectionUpsert(w http.ResponseWriter, r *http.Request, c *call) {
	if c.major < minUpsertAPI {
		writeNotFound(w)
		return
	}
	if r.Method != http.MethodPatch {
		writeMethodNotAllowed(w, r, "PATCH")
		return
	}
	d, ok := c.view().describe(r.PathValue("type"))
	if !ok {
		writeNotFound(w)
		return
	}
	fl, ok := d.Field(r.PathValue("field"))
	if !ok || !(fl.ExternalID || fl.IDLookup) {
		writeOrgError(w, &org.Error{Code: org.CodeNotFound, Message: "Provided external ID field does not exist or is not accessible: " + r.PathValue("field")})
		return
	}
	req, recs, ok := readCollection(w, r)
	if !ok {
		return
	}
	values := make([]string, len(recs))
	count := map[string]int{}
	for i, rec := range recs {
		values[i] = externalValue(rec, fl.Name)
		if values[i] != "" {
			count[strings.ToLower(values[i])]++
		}
	}
	writeJSON(w, http.StatusOK, c.runCollection(len(recs), req.AllOrNone, false, func(s *txState, i int) (string, *bool, *org.Error) {
		return c.collectionUpsert(s, d, fl, recs[i], values[i], count[strings.ToLower(values[i])] > 1)
	}))
}

// externalValue returns a record's external id value as text.
func externalValue(rec map[string]any, field string) string {
	for k, v := range rec {
		if strings.EqualFold(k, field) {
			return scalarText(v)
		}
	}
	return ""
}

func (c *call) collectionUpsert(s *txState, d *salesforce.SObjectDescribe, fl *salesforce.Field, rec map[string]any, value string, duplicate bool) (string, *bool, *org.Error) {
	notCreated := new(bool)
	id, created, err := c.upsertOne(s, d, fl, rec, value, duplicate)
	if err != nil {
		return id, notCreated, err
	}
	return id, created, nil
}

func (c *call) upsertOne(s *txState, d *salesforce.SObjectDescribe, fl *salesforce.Field, rec map[string]any, value string, duplicate bool) (string, *bool, *org.Error) {
	if value == "" {
		return "", nil, &org.Error{Code: codeMissingArgument, Message: fl.Name + " not specified", Fields: []string{}}
	}
	if duplicate {
		return "", nil, &org.Error{Code: codeDuplicateExternalID, Message: "Duplicate external id specified: " + value, Fields: []string{fl.Name}}
	}
	fields := recordFields(rec)
	for k := range fields {
		if strings.EqualFold(k, fl.Name) {
			delete(fields, k)
		}
	}
	if id, ok := takeID(fields); ok {
		return id, nil, &org.Error{Code: codeInvalidField, Message: "Id is not allowed in a record upserted by external ID", Fields: []string{"Id"}}
	}
	tx := s.begin()
	ids, err := tx.FindByField(d.Name, fl.Name, value)
	if err != nil {
		return "", nil, err
	}
	if len(ids) > 1 {
		return "", nil, &org.Error{Code: codeDuplicateExternalID, Fields: []string{fl.Name},
			Message: fmt.Sprintf("%s: more than one record found for external id field: [%s]", fl.Name, strings.Join(ids, ", "))}
	}
	id, created, err := tx.Upsert(d.Name, fl.Name, value, fields)
	if err != nil {
		if len(ids) == 1 {
			return ids[0], nil, err
		}
		return "", nil, err
	}
	return id, &created, nil
}
