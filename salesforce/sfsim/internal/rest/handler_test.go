package rest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHandler_Versions_NoSessionNoLimitInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/services/data/", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Sforce-Limit-Info") != "" {
		t.Fatalf("status %d, Sforce-Limit-Info %q", res.StatusCode, res.Header.Get("Sforce-Limit-Info"))
	}
	var versions []map[string]string
	e.do(http.MethodGet, "/services/data", nil).want(t, http.StatusOK).decode(t, &versions)
	first, last := versions[0], versions[len(versions)-1]
	if first["version"] != "20.0" || first["label"] != "Winter '11" || first["url"] != "/services/data/v20.0" {
		t.Fatalf("first version %v", first)
	}
	if last["version"] != "67.0" || last["label"] != "Summer '26" {
		t.Fatalf("last version %v", last)
	}
	for _, v := range versions {
		if v["version"] == "62.0" && v["label"] != "Winter '25" {
			t.Fatalf("v62.0 label %q", v["label"])
		}
	}
}

func TestHandler_InvalidSession_401(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const want = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`
	for _, authz := range []string{"", "Bearer nope", "Basic abc", "OAuth " + e.token + "x"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+v+"/sobjects", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != http.StatusUnauthorized || body != want {
			t.Errorf("Authorization %q: %d %s", authz, res.StatusCode, body)
		}
		if res.Header.Get("Sforce-Limit-Info") != "" {
			t.Errorf("Authorization %q: 401 carries Sforce-Limit-Info", authz)
		}
	}
	used, _ := e.org.APIUsage()
	if used != 0 {
		t.Fatalf("rejected requests spent %d API calls", used)
	}
	// OAuth is accepted as well as Bearer.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+v+"/limits", nil)
	req.Header.Set("Authorization", "OAuth "+e.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, res); res.StatusCode != http.StatusOK {
		t.Fatalf("OAuth scheme: %d", res.StatusCode)
	}
}

func TestHandler_APIBudget_LimitInfoAnd403(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.org.SetAPIBudget(10, 12)
	r := e.do(http.MethodGet, v+"/limits", nil).want(t, http.StatusOK)
	if got := r.header.Get("Sforce-Limit-Info"); got != "api-usage=11/12" {
		t.Fatalf("Sforce-Limit-Info %q", got)
	}
	var limits map[string]map[string]int
	r.decode(t, &limits)
	if d := limits["DailyApiRequests"]; d["Max"] != 12 || d["Remaining"] != 1 {
		t.Fatalf("DailyApiRequests %v", d)
	}
	if _, ok := limits["DailyBulkApiBatches"]; !ok {
		t.Fatal("limits lack DailyBulkApiBatches")
	}
	e.do(http.MethodGet, v+"/sobjects", nil).want(t, http.StatusOK)
	r = e.do(http.MethodGet, v+"/sobjects", nil).want(t, http.StatusForbidden)
	if string(r.body) != `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]` {
		t.Fatalf("body %s", r.body)
	}
	if got := r.header.Get("Sforce-Limit-Info"); got != "api-usage=12/12" {
		t.Fatalf("Sforce-Limit-Info on 403 %q", got)
	}
	// A new (simulated) day restores the budget.
	e.clock.Advance(24 * time.Hour)
	e.token, _ = e.auth.IssueToken()
	e.do(http.MethodGet, v+"/sobjects", nil).want(t, http.StatusOK)
}

func TestHandler_Version(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{"/services/data/v19.0/sobjects", "/services/data/v100.0/sobjects", "/services/data/v62.1/sobjects",
		"/services/data/vab.0/sobjects", "/services/data/62.0/sobjects", "/services/other"} {
		r := e.do(http.MethodGet, p, nil).want(t, http.StatusNotFound)
		if string(r.body) != `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]` {
			t.Errorf("%s: %s", p, r.body)
		}
	}
	for _, p := range []string{"/services/data/v20.0/sobjects", "/services/data/v99.0/sobjects", "/services/data/v62.0/sobjects/"} {
		e.do(http.MethodGet, p, nil).want(t, http.StatusOK)
	}
	var res map[string]string
	e.do(http.MethodGet, v+"/", nil).want(t, http.StatusOK).decode(t, &res)
	if res["sobjects"] != v+"/sobjects" || res["query"] != v+"/query" || res["composite"] != v+"/composite" ||
		res["identity"] != e.srv.URL+"/id/"+testOrgID+"/"+testUserID {
		t.Fatalf("resources %v", res)
	}
}

func TestHandler_Fault_CheckedFirst(t *testing.T) {
	t.Parallel()
	fail := true
	e := newEnv(t, func(c *Config) {
		c.Fault = func(r *http.Request) (int, []byte, bool) {
			if fail && strings.Contains(r.URL.Path, "/limits") {
				return http.StatusServiceUnavailable, []byte(`[{"message":"down","errorCode":"SERVER_UNAVAILABLE"}]`), true
			}
			return 0, nil, false
		}
	})
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+v+"/limits", nil) // no token
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "SERVER_UNAVAILABLE") ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if used, _ := e.org.APIUsage(); used != 0 {
		t.Fatalf("a faulted request spent %d API calls", used)
	}
}

func TestHandler_CallOptions_BecomeOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header, want string
	}{
		{"none", "", "com/salesforce/api/rest/62.0"},
		{"client only", "client=sfconnect", "com/salesforce/api/rest/62.0;client=sfconnect"},
		{"comma", "client=webapp, defaultNamespace=ns", "com/salesforce/api/rest/62.0;client=webapp"},
		{"semicolon", "defaultNamespace=ns; client=Workbench/", "com/salesforce/api/rest/62.0;client=Workbench/"},
		{"other pairs only", "defaultNamespace=ns", "com/salesforce/api/rest/62.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var headers []string
			if tt.header != "" {
				headers = []string{"Sforce-Call-Options", tt.header}
			}
			e.do(http.MethodPost, v+"/sobjects/Account", map[string]any{"Name": "Acme"}, headers...).want(t, http.StatusCreated)
			c := e.takeCommits()
			if len(c) != 1 || c[0].Origin != tt.want {
				t.Fatalf("commits %+v, want origin %q", c, tt.want)
			}
		})
	}
	e := newEnv(t)
	e.do(http.MethodPost, "/services/data/v45.0/sobjects/Account", map[string]any{"Name": "Acme"}, "Sforce-Call-Options", "client=x").want(t, http.StatusCreated)
	if c := e.takeCommits(); c[0].Origin != "com/salesforce/api/rest/45.0;client=x" {
		t.Fatalf("origin %q", c[0].Origin)
	}
}

func TestHandler_UncleanAndUnknownPaths_404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{v + "/nope", v + "//sobjects", v + "/sobjects/./Account", v + "/sobjects/Account/a/b/c/d", v + "/composite/tree/Account"} {
		e.do(http.MethodGet, p, nil).want(t, http.StatusNotFound)
	}
	r := e.do(http.MethodPut, v+"/sobjects/Account", "{}").want(t, http.StatusMethodNotAllowed)
	if string(r.body) != `[{"errorCode":"METHOD_NOT_ALLOWED","message":"HTTP Method 'PUT' not allowed. Allowed are HEAD,GET,POST"}]` {
		t.Fatalf("405 body %s", r.body)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
