package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Composite limits: 25 subrequests, of which at most 5 are queries or
// sObject Collections.
const (
	maxCompositeSubrequests = 25
	maxCompositeQueries     = 5
)

type compositeRequest struct {
	AllOrNone          bool           `json:"allOrNone"`
	CollateSubrequests *bool          `json:"collateSubrequests"` // accepted; subrequests always run in order
	CompositeRequest   []compositeSub `json:"compositeRequest"`
}

type compositeSub struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        json.RawMessage   `json:"body"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
}

type compositeResult struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// referenceIDPattern: letters, digits and underscores, starting with a
// letter or digit (Salesforce enforces this from API 54.0).
var referenceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]*$`)

// referencePattern matches @{referenceId.path} references.
var referencePattern = regexp.MustCompile(`@\{([^{}]*)\}`)

// subrequest methods the composite resources accept.
var compositeMethods = map[string]bool{"GET": true, "POST": true, "PATCH": true, "PUT": true, "DELETE": true, "HEAD": true}

// haltedResult is a subrequest's result after an allOrNone rollback.
func haltedResult(refID string) compositeResult {
	b, _ := marshal([]codeFirstError{{ErrorCode: codeProcessingHalted, Message: msgRolledBack}})
	return compositeResult{Body: b, HTTPHeaders: map[string]string{}, HTTPStatusCode: http.StatusBadRequest, ReferenceID: refID}
}

// invalidInput answers a malformed composite request before anything runs.
func invalidInput(w http.ResponseWriter, msg string) {
	writeErrors(w, http.StatusBadRequest, apiError{Message: msg, ErrorCode: codeInvalidAPIInput})
}

// compositeResource classifies the resource of a subrequest path (relative
// to the version): "sobjects", "query", "collections", or "" when the
// composite resource cannot run it.
func compositeResource(rest string) string {
	p, _, _ := strings.Cut(rest, "?")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case seg[0] == "sobjects" && len(seg) > 1:
		return "sobjects"
	case seg[0] == "query" || seg[0] == "queryAll":
		return "query"
	case seg[0] == "composite" && len(seg) > 1 && seg[1] == "sobjects":
		return "collections"
	}
	return ""
}

// serveComposite answers POST /composite: up to 25 subrequests run in
// order in one transaction, with @{ref.path} references between them.
func (h *Handler) serveComposite(w http.ResponseWriter, r *http.Request, c *call) {
	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, r, "POST")
		return
	}
	var req compositeRequest
	if !decodeInto(w, r, &req) {
		return
	}
	if msg := validateComposite(&req); msg != "" {
		invalidInput(w, msg)
		return
	}
	state := &txState{o: h.org, origin: c.origin}
	// If a subrequest panics, release the org rather than leave it locked.
	defer state.finish(false)
	results := make([]compositeResult, len(req.CompositeRequest))
	bodies := map[string]any{} // referenceId -> decoded body, for references
	halted := false
	for i, sub := range req.CompositeRequest {
		if halted {
			results[i] = haltedResult(sub.ReferenceID)
			continue
		}
		sp := -1
		if state.tx != nil {
			sp = state.tx.Savepoint()
		}
		sc := &call{h: h, origin: c.origin, shared: state, allOrNone: req.AllOrNone}
		res, failed := h.runCompositeSub(r, sc, sub, bodies)
		results[i] = res
		if !failed {
			var decoded any
			if err := json.Unmarshal(res.Body, &decoded); err == nil {
				bodies[sub.ReferenceID] = decoded
			}
			continue
		}
		if req.AllOrNone {
			// Invariant: allOrNone leaves nothing behind; every other
			// subrequest reports PROCESSING_HALTED.
			state.finish(false)
			halted = true
			for j := range i {
				results[j] = haltedResult(req.CompositeRequest[j].ReferenceID)
			}
			continue
		}
		if state.tx != nil {
			state.tx.RollbackTo(max(sp, 0))
		}
	}
	state.finish(true)
	writeJSON(w, http.StatusOK, map[string]any{"compositeResponse": results})
}

// validateComposite checks a composite request before anything runs and
// returns what is wrong, or "". [UNVERIFIED wording of the messages]
func validateComposite(req *compositeRequest) string {
	n := len(req.CompositeRequest)
	if n == 0 {
		return "compositeRequest must contain at least one subrequest"
	}
	if n > maxCompositeSubrequests {
		return fmt.Sprintf("Exceeded max number of subrequests: %d. The limit is %d", n, maxCompositeSubrequests)
	}
	seen := map[string]bool{}
	queries := 0
	for i := range req.CompositeRequest {
		sub := &req.CompositeRequest[i]
		sub.Method = strings.ToUpper(sub.Method)
		if !compositeMethods[sub.Method] {
			return fmt.Sprintf("Invalid method specified: '%s'", sub.Method)
		}
		if sub.ReferenceID == "" {
			return "referenceId is required for each subrequest"
		}
		if !referenceIDPattern.MatchString(sub.ReferenceID) {
			return fmt.Sprintf("Provided referenceId ('%s') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').", sub.ReferenceID)
		}
		if seen[sub.ReferenceID] {
			return fmt.Sprintf("Duplicate referenceId provided in the request: %s", sub.ReferenceID)
		}
		seen[sub.ReferenceID] = true
		_, rest, ok := splitTarget(sub.URL)
		if !ok {
			return fmt.Sprintf("The url of subrequest %s must begin with /services/data/vXX.X/", sub.ReferenceID)
		}
		switch compositeResource(rest) {
		case "":
			return fmt.Sprintf("The resource of subrequest %s is not supported in a composite request: %s", sub.ReferenceID, sub.URL)
		case "query", "collections":
			queries++
		}
		for k := range sub.HTTPHeaders {
			switch strings.ToLower(k) {
			case "accept", "authorization", "content-type":
				return fmt.Sprintf("Subrequest %s may not set the %s header", sub.ReferenceID, k)
			}
		}
	}
	if queries > maxCompositeQueries {
		return fmt.Sprintf("Exceeded max number of query or sObject Collections subrequests: %d. The limit is %d", queries, maxCompositeQueries)
	}
	return ""
}

// runCompositeSub resolves a subrequest's references and runs it through
// the handler. failed reports an HTTP status of 400 or more, or, when the
// composite is allOrNone, a failed record in an sObject Collections
// subrequest.
func (h *Handler) runCompositeSub(r *http.Request, sc *call, sub compositeSub, bodies map[string]any) (compositeResult, bool) {
	res := compositeResult{HTTPHeaders: map[string]string{}, ReferenceID: sub.ReferenceID}
	halt := func(msg string) (compositeResult, bool) {
		res.Body, _ = marshal([]codeFirstError{{ErrorCode: codeProcessingHalted, Message: msg}})
		res.HTTPStatusCode = http.StatusBadRequest
		return res, true
	}
	target, err := resolveString(sub.URL, bodies)
	if err != nil {
		return halt(err.Error())
	}
	var body []byte
	if len(sub.Body) > 0 && sub.Method != http.MethodGet && sub.Method != http.MethodHead && sub.Method != http.MethodDelete {
		v, derr := decodeJSON(sub.Body)
		if derr != nil {
			return halt(jsonErrorMessage(derr))
		}
		if v, err = resolveValue(v, bodies); err != nil {
			return halt(err.Error())
		}
		if body, err = marshal(v); err != nil {
			return halt(err.Error())
		}
	}
	req, err := subrequest(r, sub.Method, target, body, sub.HTTPHeaders)
	if err != nil {
		return halt("Invalid subrequest url: " + sub.URL)
	}
	version, rest, ok := splitVersion(strings.TrimPrefix(req.URL.EscapedPath(), dataPrefix))
	if !ok {
		return halt("Invalid subrequest url: " + sub.URL)
	}
	sc.version, sc.major = version, majorOf(version)
	rec := newRecorder()
	h.dispatch(rec, req, sc, rest)
	res.Body, res.HTTPStatusCode = rec.result(), rec.code()
	if loc := rec.header.Get("Location"); loc != "" {
		res.HTTPHeaders["Location"] = loc
	}
	return res, res.HTTPStatusCode >= 400 || (sc.allOrNone && sc.recordFailed)
}

// resolveValue replaces references in every string of a decoded JSON value.
// A string that is exactly one reference takes the referenced value with
// its JSON type.
func resolveValue(v any, bodies map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		if m := referencePattern.FindStringSubmatchIndex(x); m != nil && m[0] == 0 && m[1] == len(x) {
			return lookupReference(x[m[2]:m[3]], bodies)
		}
		return resolveString(x, bodies)
	case map[string]any:
		for k, e := range x {
			r, err := resolveValue(e, bodies)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := resolveValue(e, bodies)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

// resolveString replaces every @{...} reference in s with the referenced
// value's text.
func resolveString(s string, bodies map[string]any) (string, error) {
	var firstErr error
	out := referencePattern.ReplaceAllStringFunc(s, func(m string) string {
		v, err := lookupReference(m[2:len(m)-1], bodies)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return m
		}
		return scalarText(v)
	})
	return out, firstErr
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// referenceError is a reference that cannot be resolved; its text is
// Salesforce's PROCESSING_HALTED message.
type referenceError string

func (e referenceError) Error() string { return string(e) }

// lookupReference evaluates "refId.path" (path: names and [n] indexes)
// against the bodies of earlier subrequests that succeeded.
func lookupReference(expr string, bodies map[string]any) (any, error) {
	end := strings.IndexAny(expr, ".[")
	if end < 0 {
		end = len(expr)
	}
	refID := expr[:end]
	notFound := referenceError("Invalid reference specified. No value for " + expr + " found in " + refID)
	cur, ok := bodies[refID]
	if !ok || end == len(expr) {
		return nil, notFound
	}
	p := expr[end:]
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
			n := strings.IndexAny(p, ".[")
			if n < 0 {
				n = len(p)
			}
			name := p[:n]
			p = p[n:]
			m, isMap := cur.(map[string]any)
			if !isMap || name == "" {
				return nil, notFound
			}
			v, found := m[name]
			if !found {
				for k, kv := range m {
					if strings.EqualFold(k, name) {
						v, found = kv, true
						break
					}
				}
			}
			if !found {
				return nil, notFound
			}
			cur = v
		case '[':
			closeAt := strings.IndexByte(p, ']')
			if closeAt < 0 {
				return nil, notFound
			}
			i, err := strconv.Atoi(p[1:closeAt])
			p = p[closeAt+1:]
			a, isArr := cur.([]any)
			if err != nil || !isArr || i < 0 || i >= len(a) {
				return nil, notFound
			}
			cur = a[i]
		default:
			return nil, notFound
		}
	}
	switch cur.(type) {
	case string, float64, bool:
		return cur, nil
	}
	return nil, notFound
}
