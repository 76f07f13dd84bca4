package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// MaxCollectionRecords is how many records one sObject Collections write
// (create, update, upsert, delete) accepts.
const MaxCollectionRecords = 200

// SaveResult is one record's outcome of an sObject Collections write, in
// request order: a SaveResult, or an UpsertResult with Created.
type SaveResult struct {
	// ID is the record's id; empty for a failed create.
	ID string `json:"id,omitempty"`
	// Success tells whether the record was written.
	Success bool `json:"success"`
	// Errors holds the record's errors when Success is false.
	Errors []RecordError `json:"errors"`
	// Created is set by upserts: true for an inserted record.
	Created *bool `json:"created,omitempty"`
}

// RecordError is one error of a SaveResult. sObject Collections name the
// code statusCode (single-record resources call it errorCode).
type RecordError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

// Error implements error: "FIELD_CUSTOM_VALIDATION_EXCEPTION: message
// (fields Phone)".
func (e RecordError) Error() string {
	s := e.StatusCode + ": " + e.Message
	if len(e.Fields) > 0 {
		s += " (fields " + strings.Join(e.Fields, ", ") + ")"
	}
	return s
}

// CollectionCall is one sObject Collections write, built by UpsertCall,
// UpdateCall or DeleteCall and sent with Client.Collection, or packed with
// others into one /composite request with Client.CompositeCollections.
type CollectionCall struct {
	// Method and Path (relative to /services/data/vXX.X, escaped) of the
	// request.
	Method, Path string
	// Body is the JSON body; nil for deletes.
	Body any
	// N is how many records the call writes, which is how many results it
	// must return.
	N int
}

// collectionBody is the body of a collection create, update or upsert.
type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// withType returns a copy of rec carrying attributes.type, which every
// record of a collection write needs.
func withType(object string, rec map[string]any) map[string]any {
	out := make(map[string]any, len(rec)+1)
	for k, v := range rec {
		out[k] = v
	}
	out["attributes"] = map[string]string{"type": object}
	return out
}

// UpsertCall builds PATCH /composite/sobjects/{object}/{extIDField}:
// records of one object, each carrying its extIDField value, inserted or
// updated by it, with allOrNone false (each record succeeds or fails on its
// own). At most MaxCollectionRecords records.
func UpsertCall(object, extIDField string, records []map[string]any) CollectionCall {
	recs := make([]map[string]any, len(records))
	for i, r := range records {
		recs[i] = withType(object, r)
	}
	return CollectionCall{
		Method: "PATCH",
		Path:   "/composite/sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(extIDField),
		Body:   collectionBody{Records: recs},
		N:      len(records),
	}
}

// UpdateCall builds PATCH /composite/sobjects: records of one object, each
// carrying its Id, with allOrNone false. At most MaxCollectionRecords.
func UpdateCall(object string, records []map[string]any) CollectionCall {
	recs := make([]map[string]any, len(records))
	for i, r := range records {
		recs[i] = withType(object, r)
	}
	return CollectionCall{Method: "PATCH", Path: "/composite/sobjects", Body: collectionBody{Records: recs}, N: len(records)}
}

// DeleteCall builds DELETE /composite/sobjects?ids=...&allOrNone=false. At
// most MaxCollectionRecords ids.
func DeleteCall(ids []string) CollectionCall {
	esc := make([]string, len(ids))
	for i, id := range ids {
		esc[i] = url.QueryEscape(id)
	}
	return CollectionCall{Method: "DELETE", Path: "/composite/sobjects?ids=" + strings.Join(esc, ",") + "&allOrNone=false", N: len(ids)}
}

// Collection sends one sObject Collections write and returns one result
// per record, in request order. A failed request (an *APIError, classified
// as usual) fails the whole call; per-record failures are in the results.
func (c *Client) Collection(ctx context.Context, call CollectionCall) ([]SaveResult, error) {
	if call.N > MaxCollectionRecords {
		return nil, connectorlib.Permanent(fmt.Errorf("collection write of %d records: at most %d", call.N, MaxCollectionRecords))
	}
	var res []SaveResult
	if err := c.Do(ctx, call.Method, call.Path, call.Body, &res); err != nil {
		return nil, err
	}
	if len(res) != call.N {
		return nil, connectorlib.Retryable(fmt.Errorf("%s %s: %d results for %d records", call.Method, call.Path, len(res), call.N))
	}
	return res, nil
}

// MaxCompositeCollections is how many sObject Collections (or query)
// subrequests one /composite request may hold; with MaxCollectionRecords
// each, one composite call writes up to 1,000 records.
const MaxCompositeCollections = 5

// compositeSub and compositeBody are a /composite request.
type compositeSub struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        any               `json:"body,omitempty"`
	HTTPHeaders map[string]string `json:"httpHeaders,omitempty"`
}

type compositeBody struct {
	AllOrNone        bool           `json:"allOrNone"`
	CompositeRequest []compositeSub `json:"compositeRequest"`
}

// compositeAnswer is the /composite response (always HTTP 200).
type compositeAnswer struct {
	CompositeResponse []struct {
		Body           json.RawMessage `json:"body"`
		HTTPStatusCode int             `json:"httpStatusCode"`
		ReferenceID    string          `json:"referenceId"`
	} `json:"compositeResponse"`
}

// composite sends subrequests in one POST /composite with allOrNone false
// and returns each subrequest's status and body, in order.
func (c *Client) composite(ctx context.Context, subs []compositeSub) ([]int, []json.RawMessage, error) {
	for i := range subs {
		subs[i].ReferenceID = fmt.Sprintf("r%d", i)
		if c.callOptions != "" {
			// Documented for the top-level request only; repeated on each
			// subrequest in case Salesforce records the subrequest's own.
			subs[i].HTTPHeaders = map[string]string{"Sforce-Call-Options": c.callOptions}
		}
	}
	var ans compositeAnswer
	if err := c.Do(ctx, "POST", "/composite", compositeBody{CompositeRequest: subs}, &ans); err != nil {
		return nil, nil, err
	}
	if len(ans.CompositeResponse) != len(subs) {
		return nil, nil, connectorlib.Retryable(fmt.Errorf("POST /composite: %d results for %d subrequests", len(ans.CompositeResponse), len(subs)))
	}
	status := make([]int, len(subs))
	bodies := make([]json.RawMessage, len(subs))
	for i, r := range ans.CompositeResponse {
		status[i], bodies[i] = r.HTTPStatusCode, r.Body
	}
	return status, bodies, nil
}

// subrequestError turns a failed subrequest's answer into an *APIError,
// classified as a top-level answer of that status would be.
func (c *Client) subrequestError(status int, body []byte) error {
	return classifyAPIError(parseAPIError(status, body), nil, c.now())
}

// CompositeCollections sends up to MaxCompositeCollections collection
// writes as the subrequests of one POST /composite (allOrNone false), which
// Salesforce counts as one API request. results[i] and errs[i] are call
// i's outcome: its per-record results, or the error its subrequest failed
// with. A failed composite request itself is returned as err, and then
// nothing is known to be written.
func (c *Client) CompositeCollections(ctx context.Context, calls []CollectionCall) (results [][]SaveResult, errs []error, err error) {
	if len(calls) == 0 {
		return nil, nil, nil
	}
	if len(calls) > MaxCompositeCollections {
		return nil, nil, connectorlib.Permanent(fmt.Errorf("composite of %d collection writes: at most %d", len(calls), MaxCompositeCollections))
	}
	subs := make([]compositeSub, len(calls))
	for i, call := range calls {
		if call.N > MaxCollectionRecords {
			return nil, nil, connectorlib.Permanent(fmt.Errorf("collection write of %d records: at most %d", call.N, MaxCollectionRecords))
		}
		subs[i] = compositeSub{Method: call.Method, URL: c.dataPath(call.Path), Body: call.Body}
	}
	status, bodies, err := c.composite(ctx, subs)
	if err != nil {
		return nil, nil, err
	}
	results = make([][]SaveResult, len(calls))
	errs = make([]error, len(calls))
	for i, call := range calls {
		if status[i] < 200 || status[i] >= 300 {
			errs[i] = fmt.Errorf("%s %s in /composite: %w", call.Method, call.Path, c.subrequestError(status[i], bodies[i]))
			continue
		}
		var res []SaveResult
		if err := json.Unmarshal(bodies[i], &res); err != nil || len(res) != call.N {
			errs[i] = connectorlib.Retryable(fmt.Errorf("%s %s in /composite: unexpected answer for %d records", call.Method, call.Path, call.N))
			continue
		}
		results[i] = res
	}
	return results, errs, nil
}

// CompositeQueries runs up to MaxCompositeCollections SOQL queries as the
// subrequests of one POST /composite, one API request, and returns each
// query's records (shaped as Query's). A query whose answer is not done is
// followed page by page with further requests. Any failed query fails the
// call.
func (c *Client) CompositeQueries(ctx context.Context, soqls []string) ([][]map[string]any, error) {
	if len(soqls) == 0 {
		return nil, nil
	}
	if len(soqls) > MaxCompositeCollections {
		return nil, connectorlib.Permanent(fmt.Errorf("composite of %d queries: at most %d", len(soqls), MaxCompositeCollections))
	}
	subs := make([]compositeSub, len(soqls))
	for i, q := range soqls {
		subs[i] = compositeSub{Method: "GET", URL: c.dataPath("/query?q=" + strings.ReplaceAll(url.QueryEscape(q), "+", "%20"))}
	}
	status, bodies, err := c.composite(ctx, subs)
	if err != nil {
		return nil, err
	}
	out := make([][]map[string]any, len(soqls))
	for i := range soqls {
		if status[i] < 200 || status[i] >= 300 {
			return nil, fmt.Errorf("query in /composite: %w", c.subrequestError(status[i], bodies[i]))
		}
		page, err := decodePage(bodies[i])
		if err != nil {
			return nil, err
		}
		for {
			for _, rec := range page.Records {
				if rec != nil {
					stripAttributes(rec)
					out[i] = append(out[i], rec)
				}
			}
			if page.Done {
				break
			}
			if !strings.HasPrefix(page.NextRecordsURL, "/services/") {
				return nil, connectorlib.Retryable(fmt.Errorf("query in /composite: page not done but nextRecordsUrl is %q", page.NextRecordsURL))
			}
			var raw json.RawMessage
			if err := c.call(ctx, "GET", page.NextRecordsURL, nil, &raw); err != nil {
				return nil, fmt.Errorf("query: %w", err)
			}
			if page, err = decodePage(raw); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// decodePage decodes one query page with numbers as json.Number.
func decodePage(b []byte) (queryPage, error) {
	var page queryPage
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil {
		return page, connectorlib.Retryable(fmt.Errorf("decode query page: %w", err))
	}
	return page, nil
}
