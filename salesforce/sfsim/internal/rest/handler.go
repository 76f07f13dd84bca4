package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// Config configures a Handler.
type Config struct {
	// Org is the simulated org every resource reads and writes. Required.
	Org *org.Org
	// Auth validates the access token of every request under
	// /services/data/vXX.X/. Required; *auth.Provider satisfies it.
	Auth interface {
		Validate(token string) (auth.Session, error)
	}
	// Now is the simulated clock (query cursor expiry, job timestamps).
	// Nil means the org's clock.
	Now func() time.Time
	// PublishPlatformEvent publishes a platform event for
	// POST /sobjects/<Name>__e (and __e records in sObject Collections).
	// Nil answers those requests 404 NOT_FOUND. It is never called while a
	// transaction of this handler is open, so it may use the org.
	PublishPlatformEvent func(name string, fields map[string]any, origin org.Origin) (id string, err *org.Error)
	// CreatePushTopic defines a PushTopic for POST /sobjects/PushTopic. Nil
	// answers 404 NOT_FOUND. Like PublishPlatformEvent it is never called
	// while a transaction of this handler is open.
	CreatePushTopic func(fields map[string]any) (id string, err *org.Error)
	// Fault, when it returns ok, answers the request with status and body
	// before anything else happens (no authentication, no API budget).
	Fault func(r *http.Request) (status int, body []byte, ok bool)
}

// Handler serves the REST API under /services/data/. It is safe for
// concurrent use. Close stops Bulk API jobs still processing.
type Handler struct {
	cfg     Config
	org     *org.Org
	now     func() time.Time
	mux     *http.ServeMux
	cursors *cursorStore
	jobs    *jobStore
	qjobs   *queryJobStore

	ctx    context.Context // cancelled by Close; bounds background work
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Handler. It panics if cfg.Org or cfg.Auth is nil: that is a
// programming error, not a request error.
func New(cfg Config) *Handler {
	if cfg.Org == nil || cfg.Auth == nil {
		panic("rest.New: Config.Org and Config.Auth are required")
	}
	now := cfg.Now
	if now == nil {
		now = cfg.Org.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		cfg: cfg, org: cfg.Org, now: now,
		cursors: newCursorStore(), jobs: newJobStore(), qjobs: newQueryJobStore(),
		ctx: ctx, cancel: cancel,
	}
	h.mux = h.routes()
	return h
}

// Close cancels Bulk API jobs still processing and waits for them. Requests
// served afterwards still work, but uploaded jobs are no longer processed.
func (h *Handler) Close() {
	h.jobs.mu.Lock()
	h.jobs.closed = true
	h.jobs.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// routes registers the resources, relative to /services/data/vXX.X. The
// patterns carry no method: each handler answers 405 itself, with
// Salesforce's body, for methods it does not support.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, fn func(http.ResponseWriter, *http.Request, *call)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			c, _ := r.Context().Value(callKey{}).(*call)
			if c == nil { // the mux is only ever served through dispatch
				writeNotFound(w)
				return
			}
			fn(w, r, c)
		})
	}
	handle("/{$}", h.serveResources)
	handle("/limits", h.serveLimits)
	handle("/sobjects", h.serveDescribeGlobal)
	handle("/sobjects/{type}", h.serveSObject)
	handle("/sobjects/{type}/describe", h.serveDescribe)
	handle("/sobjects/{type}/{id}", h.serveRecord)
	handle("/sobjects/{type}/{field}/{value}", h.serveExternalID)
	handle("/query", h.serveQuery)
	handle("/queryAll", h.serveQuery)
	handle("/query/{locator}", h.serveQueryMore)
	handle("/queryAll/{locator}", h.serveQueryMore)
	handle("/composite", h.serveComposite)
	handle("/composite/batch", h.serveBatch)
	handle("/composite/sobjects", h.serveCollection)
	handle("/composite/sobjects/{type}", h.serveCollectionRetrieve)
	handle("/composite/sobjects/{type}/{field}", h.serveCollectionUpsert)
	handle("/jobs/ingest", h.serveJobs)
	handle("/jobs/ingest/{id}", h.serveJob)
	handle("/jobs/ingest/{id}/batches", h.serveJobUpload)
	handle("/jobs/ingest/{id}/successfulResults", h.serveJobResults)
	handle("/jobs/ingest/{id}/failedResults", h.serveJobResults)
	handle("/jobs/ingest/{id}/unprocessedrecords", h.serveJobResults)
	handle("/jobs/query", h.serveQueryJobs)
	handle("/jobs/query/{id}", h.serveQueryJob)
	handle("/jobs/query/{id}/results", h.serveQueryResults)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeNotFound(w) })
	return mux
}

// dataPrefix is where the REST API lives.
const dataPrefix = "/services/data"

// ServeHTTP serves one request: injected fault, then the versions list
// (unauthenticated, as in Salesforce), then token, API budget and
// Sforce-Limit-Info, then the resource.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Fault != nil {
		if status, body, ok := h.cfg.Fault(r); ok {
			writeRaw(w, status, body)
			return
		}
	}
	p := r.URL.EscapedPath()
	if p == dataPrefix || p == dataPrefix+"/" {
		h.serveVersions(w, r)
		return
	}
	if !strings.HasPrefix(p, dataPrefix+"/") {
		writeNotFound(w)
		return
	}
	token := auth.BearerToken(r)
	if token == "" {
		auth.WriteInvalidSession(w)
		return
	}
	if _, err := h.cfg.Auth.Validate(token); err != nil {
		auth.WriteInvalidSession(w)
		return
	}
	used, limit, ok := h.org.SpendAPI()
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
	if !ok {
		writeErrors(w, http.StatusForbidden, apiError{Message: "TotalRequests Limit exceeded.", ErrorCode: codeRequestLimitExceeded})
		return
	}
	version, rest, ok := splitVersion(strings.TrimPrefix(p, dataPrefix))
	if !ok {
		writeNotFound(w)
		return
	}
	c := &call{h: h, version: version, major: majorOf(version)}
	c.origin = org.Origin{API: "rest", Version: version, Client: callOptionsClient(r.Header.Values("Sforce-Call-Options"))}
	h.dispatch(w, r, c, rest)
}

// dispatch routes an escaped path relative to /services/data/vXX.X. It is
// shared by top-level requests and composite subrequests.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, c *call, escaped string) {
	if len(escaped) > 1 {
		escaped = strings.TrimSuffix(escaped, "/")
	}
	if escaped == "" {
		escaped = "/"
	}
	// Unclean paths would make ServeMux redirect; Salesforce answers 404.
	if path.Clean(escaped) != escaped {
		writeNotFound(w)
		return
	}
	unescaped, err := url.PathUnescape(escaped)
	if err != nil {
		writeNotFound(w)
		return
	}
	u := *r.URL
	u.Path, u.RawPath = unescaped, escaped
	r2 := r.Clone(context.WithValue(r.Context(), callKey{}, c))
	r2.URL = &u
	r2.RequestURI = ""
	h.mux.ServeHTTP(w, r2)
}

// splitVersion splits "/vNN.0/rest" into "NN.0" and "/rest". Versions
// 20.0 to 99.0 are accepted.
func splitVersion(p string) (version, rest string, ok bool) {
	p = strings.TrimPrefix(p, "/")
	seg, rest, _ := strings.Cut(p, "/")
	rest = "/" + rest
	if len(seg) != 5 || seg[0] != 'v' || seg[3:] != ".0" {
		return "", "", false
	}
	n, err := strconv.Atoi(seg[1:3])
	if err != nil || n < minVersion || n > maxVersion {
		return "", "", false
	}
	return seg[1:], rest, true
}

// Accepted API versions in URLs, and the newest one Salesforce has
// released (Summer '26), which bounds the versions list.
const (
	minVersion    = 20
	maxVersion    = 99
	latestVersion = 67
)

func majorOf(version string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(version, ".0"))
	return n
}

// callOptionsClient returns the client=<id> value of Sforce-Call-Options
// headers. Pairs are separated by "," (older documentation, jsforce) or ";"
// (newer documentation); other pairs are ignored.
func callOptionsClient(values []string) string {
	for _, v := range values {
		for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(pair, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "client") {
				return strings.TrimSpace(val)
			}
		}
	}
	return ""
}

// callKey carries the *call in a request's context.
type callKey struct{}
