package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// queryPage is one page of a SOQL query answer.
type queryPage struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// Query runs a SOQL query and calls fn with each record, in the order
// Salesforce returns them, following nextRecordsUrl from page to page
// (2,000 records per page by default). Records are shaped as the Client
// documentation says: json.Number numbers, no "attributes". Subquery
// results nested in a record hold their first page only (Salesforce pages
// them separately; this client does not follow them).
//
// fn runs on the caller's goroutine between page requests; when it returns
// an error, Query stops and returns that error as it is. A query error is
// an *APIError (MALFORMED_QUERY, INVALID_FIELD, ... are permanent).
// Salesforce keeps a query cursor for 15 minutes of inactivity, so fn
// should not hold a page longer than that.
func (c *Client) Query(ctx context.Context, soql string, fn func(rec map[string]any) error) error {
	return c.query(ctx, "query", soql, fn)
}

// QueryAll is Query on /queryAll, which also returns deleted records still
// in the recycle bin (IsDeleted = true) and archived activities.
func (c *Client) QueryAll(ctx context.Context, soql string, fn func(rec map[string]any) error) error {
	return c.query(ctx, "queryAll", soql, fn)
}

func (c *Client) query(ctx context.Context, resource, soql string, fn func(rec map[string]any) error) error {
	// %20 rather than QueryEscape's "+": both mean a space in a query
	// string, and %20 is what jsforce sends.
	next := c.dataPath("/" + resource + "?q=" + strings.ReplaceAll(url.QueryEscape(soql), "+", "%20"))
	for {
		var page queryPage
		if err := c.call(ctx, "GET", next, nil, &page); err != nil {
			return fmt.Errorf("%s: %w", resource, err)
		}
		for _, rec := range page.Records {
			if rec == nil {
				continue
			}
			stripAttributes(rec)
			if err := fn(rec); err != nil {
				return err
			}
		}
		if page.Done {
			return nil
		}
		// Only a path on the instance: the bearer token must not follow a
		// URL an answer names to another host.
		if !strings.HasPrefix(page.NextRecordsURL, "/services/") {
			return connectorlib.Retryable(fmt.Errorf("%s: page not done but nextRecordsUrl is %q",
				resource, page.NextRecordsURL))
		}
		next = page.NextRecordsURL
	}
}

// maxRetrieveIDs is how many ids one sObject Collections retrieve accepts.
const maxRetrieveIDs = 2000

// retrieveRequest is the body of POST /composite/sobjects/{object}.
type retrieveRequest struct {
	IDs    []string `json:"ids"`
	Fields []string `json:"fields"`
}

// Retrieve reads records of one object by id with
// POST /composite/sobjects/{object} (sObject Collections), in requests of
// up to 2,000 ids. Id is always among the fields read, so that results can
// be matched to ids: fields may be empty to test which ids exist.
//
// Only records found are returned, in the order of ids: a deleted (or
// never existing) id comes back from Salesforce as null and is left out,
// so the result may be shorter than ids. Records are shaped as the Client
// documentation says. A failed request fails the whole call.
func (c *Client) Retrieve(ctx context.Context, object string, ids []string, fields []string) ([]map[string]any, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	withID := make([]string, 0, len(fields)+1)
	withID = append(withID, "Id")
	for _, f := range fields {
		if !strings.EqualFold(f, "Id") {
			withID = append(withID, f)
		}
	}
	path := c.dataPath("/composite/sobjects/" + url.PathEscape(object))
	out := make([]map[string]any, 0, len(ids))
	for start := 0; start < len(ids); start += maxRetrieveIDs {
		chunk := ids[start:min(start+maxRetrieveIDs, len(ids))]
		payload, err := encodeBody(retrieveRequest{IDs: chunk, Fields: withID})
		if err != nil {
			return nil, connectorlib.Permanent(fmt.Errorf("retrieve %s: %w", object, err))
		}
		var recs []map[string]any
		if err := c.call(ctx, "POST", path, payload, &recs); err != nil {
			return nil, fmt.Errorf("retrieve %s: %w", object, err)
		}
		if len(recs) != len(chunk) {
			return nil, connectorlib.Retryable(fmt.Errorf("retrieve %s: %d results for %d ids", object, len(recs), len(chunk)))
		}
		for _, rec := range recs {
			if rec != nil {
				stripAttributes(rec)
				out = append(out, rec)
			}
		}
	}
	return out, nil
}

// Describe returns the describe of an sObject
// (GET /sobjects/{object}/describe). Nothing is cached: describes change
// when an admin edits the object, and callers cache as they see fit.
func (c *Client) Describe(ctx context.Context, object string) (*SObjectDescribe, error) {
	if object == "" {
		return nil, connectorlib.Permanent(errors.New("describe: no object name"))
	}
	var d SObjectDescribe
	if err := c.call(ctx, "GET", c.dataPath("/sobjects/"+url.PathEscape(object)+"/describe"), nil, &d); err != nil {
		return nil, fmt.Errorf("describe %s: %w", object, err)
	}
	return &d, nil
}

// QueryCount runs a SELECT COUNT() query and returns its totalSize (a
// COUNT() answer carries no records).
func (c *Client) QueryCount(ctx context.Context, soql string) (int, error) {
	var page queryPage
	path := c.dataPath("/query?q=" + strings.ReplaceAll(url.QueryEscape(soql), "+", "%20"))
	if err := c.call(ctx, "GET", path, nil, &page); err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	return page.TotalSize, nil
}
