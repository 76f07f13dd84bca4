package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// Error codes the REST layer produces itself; record errors come from the
// org (org.Code*) and query errors from soql.
const (
	codeNotFound             = "NOT_FOUND"
	codeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	codeJSONParser           = "JSON_PARSER_ERROR"
	codeMalformedQuery       = "MALFORMED_QUERY"
	codeInvalidQueryLocator  = "INVALID_QUERY_LOCATOR"
	codeRequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
	codeMalformedID          = "MALFORMED_ID"
	codeInvalidField         = "INVALID_FIELD"
	codeInvalidType          = "INVALID_TYPE"
	codeMissingArgument      = "MISSING_ARGUMENT"
	codeInvalidAPIInput      = "INVALID_API_INPUT"
	codeExceededIDLimit      = "EXCEEDED_ID_LIMIT"
	codeProcessingHalted     = "PROCESSING_HALTED"
	codeBatchHalted          = "BATCH_PROCESSING_HALTED"
	codeRolledBack           = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
	codeDuplicateExternalID  = "DUPLICATE_EXTERNAL_ID"
	codeMultipleChoices      = "MULTIPLE_CHOICES" // org.Tx.Upsert's code for several matches
	codeInvalidJob           = "INVALIDJOB"
	codeInvalidJobState      = "INVALIDJOBSTATE"
	codeRequestTooLarge      = "REQUEST_ENTITY_TOO_LARGE"
)

// Messages Salesforce uses verbatim.
const (
	msgNotFound       = "The requested resource does not exist"
	msgNoBody         = "The HTTP entity body is required, but this request has no entity body."
	msgRolledBack     = "The transaction was rolled back since another operation in the same transaction failed."
	msgRecordRollback = "Record rolled back because not all records were valid and the request was using AllOrNone header"
	msgIDLimit        = "record limit reached. cannot submit more than 200 records into this call"
	msgBatchHalted    = "Batch processing halted per request" // [UNVERIFIED wording]
)

// apiError is one element of a REST error body: [{"message","errorCode",
// "fields"}]. Fields is omitted when nil, as in query and request errors.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// codeFirstError is the shape Salesforce uses for NOT_FOUND and
// PROCESSING_HALTED: errorCode before message, no fields.
type codeFirstError struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

// recordError is an org error in the single-record shape, fields always
// present.
func recordError(e *org.Error) apiError {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return apiError{Message: e.Message, ErrorCode: e.Code, Fields: f}
}

// collectionError is an error inside an sObject Collections result, which
// uses statusCode instead of errorCode.
type collectionError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func toCollectionError(e *org.Error) collectionError {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return collectionError{StatusCode: e.Code, Message: e.Message, Fields: f}
}

// statusOf maps an org error on a single-record resource to its HTTP status.
func statusOf(e *org.Error) int {
	switch e.Code {
	case org.CodeNotFound, org.CodeEntityIsDeleted:
		return http.StatusNotFound
	case codeMultipleChoices:
		return http.StatusMultipleChoices
	case org.CodeRequestLimitExceeded:
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// writeOrgError answers a single-record resource's org error.
func writeOrgError(w http.ResponseWriter, e *org.Error) {
	if e.Code == org.CodeNotFound {
		writeJSON(w, http.StatusNotFound, []codeFirstError{{ErrorCode: codeNotFound, Message: e.Message}})
		return
	}
	writeJSON(w, statusOf(e), []apiError{recordError(e)})
}

// writeErrors answers status with a JSON array of errors.
func writeErrors(w http.ResponseWriter, status int, errs ...apiError) {
	writeJSON(w, status, errs)
}

// writeNotFound answers Salesforce's 404 for unknown resources.
func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, []codeFirstError{{ErrorCode: codeNotFound, Message: msgNotFound}})
}

// writeMethodNotAllowed answers 405 naming the allowed methods.
func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, []codeFirstError{{ErrorCode: codeMethodNotAllowed,
		Message: fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", r.Method, strings.Join(allowed, ","))}})
}

// writeJSONParserError answers a body that is not the JSON expected.
func writeJSONParserError(w http.ResponseWriter, msg string) {
	writeErrors(w, http.StatusBadRequest, apiError{Message: msg, ErrorCode: codeJSONParser})
}

// writeJSON answers status with v as JSON (HTML characters unescaped, as
// Salesforce sends them).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := marshal(v)
	if err != nil {
		body, status = []byte(`[{"errorCode":"UNKNOWN_EXCEPTION","message":"sfsim: cannot encode the response"}]`), http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeRaw answers an injected fault: JSON content type when the body
// looks like JSON, plain text otherwise.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	t := bytes.TrimSpace(body)
	if len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	} else {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
