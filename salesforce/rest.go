package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// userAgent identifies sfconnect in Salesforce's login history and event
// monitoring.
const userAgent = "sfconnect"

// dataPath is where the REST API lives on an instance.
const dataPath = "/services/data/v"

// ClientConfig configures a Client.
type ClientConfig struct {
	// APIVersion is the REST API version, such as 62.0; empty means
	// DefaultAPIVersion.
	APIVersion string
	// CallClientID, when set, is sent on every request as
	// "Sforce-Call-Options: client=<id>". Salesforce records it in the
	// changeOrigin of the change events the request causes
	// (com/salesforce/api/rest/<version>;client=<id>), which is how the
	// source recognises, and can skip, the sink's own writes.
	CallClientID string
}

// Client calls the Salesforce REST API with the sessions of a
// TokenProvider. It is safe for concurrent use.
//
// Every request carries the session's bearer token. An answer of 401
// INVALID_SESSION_ID makes the client invalidate that token and retry the
// request once with a new session; nothing else is retried here: errors
// carry their connectorlib class (see APIError) and the caller's runner
// decides when to try again. Every answer's Sforce-Limit-Info feeds
// APIUsage.
//
// Records (Query, QueryAll, Retrieve) are JSON objects decoded into
// map[string]any with numbers as json.Number, so that currency and long
// values keep every digit, and without Salesforce's "attributes" metadata
// (type and url), which is removed at every level, relationship records
// and subquery results included: the caller knows what it asked for, and
// can select Type fields or use TYPEOF where a lookup is polymorphic.
type Client struct {
	tp          TokenProvider
	hc          *http.Client
	version     string
	callOptions string
	now         func() time.Time
	usage       atomic.Pointer[apiUsage]
}

// NewClient returns a client that authenticates with tp and sends its
// requests with hc, normally AuthConfig.HTTPClient's (nil means a client
// with the same timeouts that trusts only the system's CAs).
func NewClient(tp TokenProvider, hc *http.Client, cfg ClientConfig) *Client {
	if hc == nil {
		hc, _ = AuthConfig{}.HTTPClient() // without a CA file it cannot fail
	}
	version := strings.TrimPrefix(cfg.APIVersion, "v")
	if version == "" {
		version = DefaultAPIVersion
	}
	c := &Client{tp: tp, hc: hc, version: version, now: time.Now}
	if cfg.CallClientID != "" {
		c.callOptions = "client=" + cfg.CallClientID
	}
	return c
}

// String implements fmt.Stringer without the secrets the client's
// TokenProvider holds.
func (c *Client) String() string {
	return fmt.Sprintf("salesforce.Client{APIVersion:%s}", c.version)
}

// GoString implements fmt.GoStringer like String.
func (c *Client) GoString() string { return c.String() }

// Do sends one REST request and decodes the answer into out.
//
// path is relative to /services/data/vXX.X (for example
// "/sobjects/Account/001..." or "/query?q=..."; the caller escapes it),
// unless it starts with "/services/", in which case it is relative to the
// instance URL, as nextRecordsUrl and Location values are. Absolute URLs
// are refused: the bearer token only goes to the session's instance.
//
// body is sent as JSON: nil sends no body, []byte and json.RawMessage are
// sent as they are, anything else is marshalled. out receives the answer:
// nil discards it, *[]byte and *json.RawMessage take it raw, anything else
// is unmarshalled (interface values get numbers as json.Number). A 204 or
// empty answer leaves out untouched. An answer of 300 or above is an
// *APIError, classified as its documentation says.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) error {
	shown, _, _ := strings.Cut(path, "?")
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", method, shown, err) }
	full, err := c.resolve(path)
	if err != nil {
		return fail(err)
	}
	payload, err := encodeBody(body)
	if err != nil {
		return fail(connectorlib.Permanent(fmt.Errorf("encode body: %w", err)))
	}
	if err := c.call(ctx, method, full, payload, out); err != nil {
		return fail(err)
	}
	return nil
}

// resolve turns a Do path into a path on the instance.
func (c *Client) resolve(path string) (string, error) {
	if strings.Contains(path, "://") || strings.HasPrefix(path, "//") {
		return "", connectorlib.Permanent(errors.New("absolute URLs are not accepted; give a path on the instance"))
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if strings.HasPrefix(path, "/services/") {
		return path, nil
	}
	return c.dataPath(path), nil
}

// dataPath prefixes a resource path with /services/data/vXX.X.
func (c *Client) dataPath(resource string) string { return dataPath + c.version + resource }

// encodeBody returns the JSON to send for body.
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	return json.Marshal(body)
}

// call sends a request to a path on the session's instance, re-
// authenticating once on 401 INVALID_SESSION_ID, and decodes a 2xx answer
// into out.
func (c *Client) call(ctx context.Context, method, path string, payload []byte, out any) error {
	return c.callContent(ctx, method, path, "application/json", payload, out)
}

// callContent is call with the payload sent as contentType (Bulk API 2.0
// uploads are text/csv).
func (c *Client) callContent(ctx context.Context, method, path, contentType string, payload []byte, out any) error {
	for attempt := 1; ; attempt++ {
		s, err := c.tp.Session(ctx)
		if err != nil {
			return err // classified by the TokenProvider
		}
		resp, err := c.send(ctx, s, method, path, contentType, payload)
		if err != nil {
			return connectorlib.Retryable(err)
		}
		c.noteUsage(resp.Header.Get(limitInfoHeader))
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if page, ok := out.(*bulkResultPage); ok {
				// Bulk query results: the next page is named in a header.
				page.header = resp.Header
				out = &page.body
			}
			err := decodeBody(resp.Body, out)
			closeBody(resp.Body)
			return err
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		closeBody(resp.Body)
		if err != nil {
			return connectorlib.Retryable(fmt.Errorf("read HTTP %d answer: %w", resp.StatusCode, err))
		}
		apiErr := parseAPIError(resp.StatusCode, raw)
		apiErr.Message = scrub(apiErr.Message, s.AccessToken)
		if resp.StatusCode == http.StatusUnauthorized && apiErr.Code == CodeInvalidSessionID && attempt == 1 {
			// The session expired or was revoked: drop it (unless another
			// caller already replaced it) and retry once with a new one.
			c.tp.Invalidate(s.AccessToken)
			continue
		}
		return classifyAPIError(apiErr, resp.Header, c.now())
	}
}

// send sends one request with the session's token.
func (c *Client) send(ctx context.Context, s Session, method, path, contentType string, payload []byte) (*http.Response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.InstanceURL+path, body)
	if err != nil {
		return nil, connectorlib.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+s.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.callOptions != "" {
		req.Header.Set("Sforce-Call-Options", c.callOptions)
	}
	return c.hc.Do(req)
}

// decodeBody decodes a 2xx answer into out; see Do.
func decodeBody(r io.Reader, out any) error {
	switch o := out.(type) {
	case nil:
		return nil
	case *json.RawMessage:
		b, err := io.ReadAll(r)
		if err != nil {
			return connectorlib.Retryable(fmt.Errorf("read answer: %w", err))
		}
		if len(b) > 0 {
			*o = b
		}
		return nil
	case *[]byte:
		b, err := io.ReadAll(r)
		if err != nil {
			return connectorlib.Retryable(fmt.Errorf("read answer: %w", err))
		}
		if len(b) > 0 {
			*o = b
		}
		return nil
	}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	err := dec.Decode(out)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil, errors.Is(err, io.EOF): // io.EOF: an empty answer
		return nil
	case errors.As(err, &typeErr):
		// The answer is well-formed but not what the caller expects:
		// asking again gets the same answer.
		return connectorlib.Permanent(fmt.Errorf("decode answer: %w", err))
	}
	// A cut-off body (a dropped connection) looks the same as a malformed
	// one; both are worth another try.
	return connectorlib.Retryable(fmt.Errorf("decode answer: %w", err))
}

// closeBody drains a little of what is left, so that the connection can be
// reused, and closes the body.
func closeBody(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, 4<<10))
	_ = b.Close()
}

// stripAttributes removes Salesforce's "attributes" metadata from a record
// and from every object nested in it.
func stripAttributes(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "attributes")
		for _, e := range x {
			stripAttributes(e)
		}
	case []any:
		for _, e := range x {
			stripAttributes(e)
		}
	}
}
