package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Composite batch limits: 25 subrequests, each of API 34.0 or later and no
// later than the batch request's own version.
const (
	maxBatchSubrequests = 25
	minBatchAPI         = 34
)

type batchRequest struct {
	HaltOnError   bool       `json:"haltOnError"`
	BatchRequests []batchSub `json:"batchRequests"`
}

type batchSub struct {
	Method    string          `json:"method"`
	URL       string          `json:"url"`
	RichInput json.RawMessage `json:"richInput"`
}

type batchResult struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result"`
}

// batchResources are the resources a batch subrequest may address.
var batchResources = map[string]bool{"sobjects": true, "query": true, "queryAll": true, "limits": true, "search": true}

// serveBatch answers POST /composite/batch: up to 25 independent
// subrequests, each committed on its own; with haltOnError the ones after
// a failure answer 412 BATCH_PROCESSING_HALTED.
func (h *Handler) serveBatch(w http.ResponseWriter, r *http.Request, c *call) {
	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, r, "POST")
		return
	}
	var req batchRequest
	if !decodeInto(w, r, &req) {
		return
	}
	targets, msg := validateBatch(&req, c.major)
	if msg != "" {
		invalidInput(w, msg)
		return
	}
	halted, _ := marshal([]codeFirstError{{ErrorCode: codeBatchHalted, Message: msgBatchHalted}})
	results := make([]batchResult, len(req.BatchRequests))
	hasErrors, halt := false, false
	for i, sub := range req.BatchRequests {
		if halt {
			results[i] = batchResult{StatusCode: http.StatusPreconditionFailed, Result: halted}
			continue
		}
		var body []byte
		if len(sub.RichInput) > 0 && string(sub.RichInput) != "null" {
			body = sub.RichInput
		}
		rec := newRecorder()
		req2, err := subrequest(r, sub.Method, targets[i], body, nil)
		version, rest, ok := "", "", false
		if err == nil {
			version, rest, ok = splitVersion(strings.TrimPrefix(req2.URL.EscapedPath(), dataPrefix))
		}
		if !ok {
			writeNotFound(rec)
		} else {
			// Each subrequest is its own transaction, committed before
			// the next one runs.
			h.dispatch(rec, req2, &call{h: h, version: version, major: majorOf(version), origin: c.origin}, rest)
		}
		results[i] = batchResult{StatusCode: rec.code(), Result: rec.result()}
		if rec.code() >= 400 {
			hasErrors = true
			halt = req.HaltOnError
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hasErrors": hasErrors, "results": results})
}

// validateBatch checks a batch request before anything runs and returns
// each subrequest's full URL, or what is wrong.
func validateBatch(req *batchRequest, major int) ([]string, string) {
	n := len(req.BatchRequests)
	if n == 0 {
		return nil, "batchRequests must contain at least one subrequest"
	}
	if n > maxBatchSubrequests {
		return nil, fmt.Sprintf("Exceeded max number of batch subrequests: %d. The limit is %d", n, maxBatchSubrequests)
	}
	targets := make([]string, n)
	for i := range req.BatchRequests {
		sub := &req.BatchRequests[i]
		sub.Method = strings.ToUpper(sub.Method)
		if !compositeMethods[sub.Method] {
			return nil, fmt.Sprintf("Invalid method specified: '%s'", sub.Method)
		}
		target := sub.URL
		if !strings.HasPrefix(target, "/") {
			target = dataPrefix + "/" + target
		}
		version, rest, ok := splitTarget(target)
		if !ok {
			return nil, fmt.Sprintf("Invalid url for subrequest %d: %s", i, sub.URL)
		}
		if v := majorOf(version); v < minBatchAPI || v > major {
			return nil, fmt.Sprintf("Subrequest %d uses API version %s; batch subrequests must use versions from %d.0 to %d.0", i, version, minBatchAPI, major)
		}
		seg, _, _ := strings.Cut(strings.TrimPrefix(strings.SplitN(rest, "?", 2)[0], "/"), "/")
		if !batchResources[seg] {
			return nil, fmt.Sprintf("The resource of subrequest %d is not supported in a batch request: %s", i, sub.URL)
		}
		targets[i] = target
	}
	return targets, ""
}
