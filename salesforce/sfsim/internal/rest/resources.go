package rest

import (
	"fmt"
	"net/http"

	"github.com/sfconnect/sfconnect/salesforce"
)

// allowGet answers 405 unless the request is a GET or HEAD.
func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	writeMethodNotAllowed(w, r, "HEAD", "GET")
	return false
}

// serveVersions answers GET /services/data/: every version from 20.0 to the
// latest release, with Salesforce's release labels. It needs no session
// and carries no Sforce-Limit-Info, as in Salesforce.
func (h *Handler) serveVersions(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	seasons := [...]string{"Winter", "Spring", "Summer"}
	var out []map[string]string
	for v := minVersion; v <= latestVersion; v++ {
		// v20.0 is Winter '11; three releases a year.
		k := v - minVersion
		out = append(out, map[string]string{
			"label":   fmt.Sprintf("%s '%02d", seasons[k%3], 11+k/3),
			"url":     fmt.Sprintf("%s/v%d.0", dataPrefix, v),
			"version": fmt.Sprintf("%d.0", v),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// serveResources answers GET /vXX.X/: the resources the simulator serves,
// and the identity URL, which jsforce's identity() reads from here when its
// connection was given a bare access token.
func (h *Handler) serveResources(w http.ResponseWriter, r *http.Request, c *call) {
	if !allowGet(w, r) {
		return
	}
	base := dataPrefix + "/v" + c.version
	out := map[string]string{}
	for _, name := range []string{"sobjects", "query", "queryAll", "composite", "limits", "jobs"} {
		out[name] = base + "/" + name
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	out["identity"] = scheme + "://" + r.Host + "/id/" + h.org.OrgID() + "/" + h.org.UserID()
	writeJSON(w, http.StatusOK, out)
}

// serveLimits answers GET /vXX.X/limits. DailyApiRequests reflects the
// org's budget; the other entries are fixed at a Developer Edition's
// allocations and never consumed.
func (h *Handler) serveLimits(w http.ResponseWriter, r *http.Request, _ *call) {
	if !allowGet(w, r) {
		return
	}
	used, limit := h.org.APIUsage()
	entry := func(maxV, remaining int) map[string]int { return map[string]int{"Max": maxV, "Remaining": remaining} }
	out := map[string]any{
		"ConcurrentAsyncGetReportInstances":           entry(200, 200),
		"ConcurrentSyncReportRuns":                    entry(20, 20),
		"DailyApiRequests":                            entry(limit, max(0, limit-used)),
		"DailyAsyncApexExecutions":                    entry(250000, 250000),
		"DailyBulkApiBatches":                         entry(15000, 15000),
		"DailyBulkV2QueryFileStorageMB":               entry(976562, 976562),
		"DailyBulkV2QueryJobs":                        entry(10000, 10000),
		"DailyDeliveredPlatformEvents":                entry(10000, 10000),
		"DailyStreamingApiEvents":                     entry(1000000, 1000000),
		"DataStorageMB":                               entry(5, 5),
		"FileStorageMB":                               entry(20, 20),
		"HourlyPublishedPlatformEvents":               entry(250000, 250000),
		"HourlyPublishedStandardVolumePlatformEvents": entry(1000, 1000),
		"MonthlyPlatformEventsUsageEntitlement":       entry(0, 0),
	}
	writeJSON(w, http.StatusOK, out)
}

// serveDescribeGlobal answers GET /vXX.X/sobjects.
func (h *Handler) serveDescribeGlobal(w http.ResponseWriter, r *http.Request, c *call) {
	if !allowGet(w, r) {
		return
	}
	v := c.view()
	var list []map[string]any
	for _, name := range v.objects() {
		if d, ok := v.describe(name); ok {
			list = append(list, sobjectSummary(d, c.version))
		}
	}
	if list == nil {
		list = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list})
}

// serveSObject answers /sobjects/{type}: GET basic information, POST create.
func (h *Handler) serveSObject(w http.ResponseWriter, r *http.Request, c *call) {
	typ := r.PathValue("type")
	switch r.Method {
	case http.MethodPost:
		h.createRecord(w, r, c, typ)
	case http.MethodGet, http.MethodHead:
		d, ok := c.view().describe(typ)
		if !ok {
			writeNotFound(w)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": sobjectSummary(d, c.version), "recentItems": []any{}})
	default:
		writeMethodNotAllowed(w, r, "HEAD", "GET", "POST")
	}
}

// serveDescribe answers GET /sobjects/{type}/describe.
func (h *Handler) serveDescribe(w http.ResponseWriter, r *http.Request, c *call) {
	if !allowGet(w, r) {
		return
	}
	v := c.view()
	d, ok := v.describe(r.PathValue("type"))
	if !ok {
		writeNotFound(w)
		return
	}
	var all []*salesforce.SObjectDescribe
	for _, name := range v.objects() {
		if o, ok := v.describe(name); ok {
			all = append(all, o)
		}
	}
	writeJSON(w, http.StatusOK, renderDescribe(d, c.version, all))
}
