package salesforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

const restPrefix = "/services/data/"

func TestClient_Describe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d, err := e.client.Describe(testContext(t), "Account")
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if d.Name != "Account" || d.KeyPrefix != "001" {
		t.Errorf("describe = %s (%s), want Account (001)", d.Name, d.KeyPrefix)
	}
	if f, ok := d.Field("name"); !ok || f.Type != "string" {
		t.Errorf("Field(name) = %+v, %v; want the string field Name", f, ok)
	}
	_, err = e.client.Describe(testContext(t), "NoSuchObject__c")
	var ae *salesforce.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || connectorlib.IsRetryable(err) {
		t.Errorf("Describe(NoSuchObject__c) = %v, want a permanent 404", err)
	}
}

func TestClient_Call_TokenExpiryReauthenticatesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	if _, err := e.client.Describe(ctx, "Account"); err != nil {
		t.Fatal(err)
	}
	old, _ := e.auth.Session(ctx)
	e.sim.ExpireTokens()
	if _, err := e.client.Describe(ctx, "Account"); err != nil {
		t.Fatalf("Describe after the token expired: %v", err)
	}
	if got := e.rec.tokenRequests(); got != 2 {
		t.Errorf("%d token requests, want 2 (first login, then one after expiry)", got)
	}
	// 1 before expiry, then 401 and its retry.
	if got := e.rec.count(http.MethodGet, restPrefix); got != 3 {
		t.Errorf("%d REST requests, want 3", got)
	}
	if s, _ := e.auth.Session(ctx); s.AccessToken == old.AccessToken {
		t.Error("the expired session is still cached")
	}
}

func TestClient_Call_ConcurrentCallersAfterExpiryAuthenticateOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	if _, err := e.client.Describe(ctx, "Account"); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireTokens()
	const callers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			if _, err := e.client.Describe(ctx, "Account"); err != nil {
				t.Errorf("Describe: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := e.rec.tokenRequests(); got != 2 {
		t.Errorf("%d token requests, want 2: the first login and one shared by %d callers after expiry", got, callers)
	}
}

func TestClient_Call_StillUnauthorizedAfterOneRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	s, err := e.auth.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.FailNext(sfsim.SurfaceREST, 2, sfsim.Fault{Status: http.StatusUnauthorized,
		ErrorCode: salesforce.CodeInvalidSessionID, Message: "Session expired or invalid"})
	_, err = e.client.Describe(ctx, "Account")
	var ae *salesforce.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != salesforce.CodeInvalidSessionID {
		t.Fatalf("Describe = %v, want 401 INVALID_SESSION_ID", err)
	}
	if !connectorlib.IsRetryable(err) {
		t.Errorf("401 after a new session is permanent, want retryable: %v", err)
	}
	if got := e.rec.tokenRequests(); got != 2 {
		t.Errorf("%d token requests, want 2 (the client re-authenticates once, not in a loop)", got)
	}
	if got := e.rec.count("", restPrefix); got != 2 {
		t.Errorf("%d REST requests, want 2", got)
	}
	assertNoSecrets(t, "error", err.Error(), s.AccessToken)
}

func TestClient_Call_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup prepares the simulator; call makes the failing call.
		setup     func(e *env)
		call      func(e *env) error
		modify    func(req *http.Request, resp *http.Response)
		wantClass connectorlib.Class
		wantCode  string // APIError.Code
		wantHTTP  int
		wantField string
		wantAfter time.Duration
	}{
		{
			name: "injected 503",
			setup: func(e *env) {
				e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 503, ErrorCode: "SERVER_UNAVAILABLE", Message: "down for maintenance"})
			},
			call:      describeAccount,
			wantClass: connectorlib.ClassRetryable, wantCode: "SERVER_UNAVAILABLE", wantHTTP: 503,
		},
		{
			name: "injected 500 with a text body",
			setup: func(e *env) {
				e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 500})
			},
			call:      describeAccount,
			wantClass: connectorlib.ClassRetryable, wantHTTP: 500,
		},
		{
			name: "429 with Retry-After",
			setup: func(e *env) {
				e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 429, ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "slow down"})
			},
			modify: func(_ *http.Request, resp *http.Response) {
				if resp.StatusCode == http.StatusTooManyRequests {
					resp.Header.Set("Retry-After", "7")
				}
			},
			call:      describeAccount,
			wantClass: connectorlib.ClassThrottled, wantCode: "REQUEST_LIMIT_EXCEEDED", wantHTTP: 429, wantAfter: 7 * time.Second,
		},
		{
			name:      "daily API budget spent",
			setup:     func(e *env) { e.sim.SetAPIBudget(5000, 5000) },
			call:      describeAccount,
			wantClass: connectorlib.ClassRetryable, wantCode: salesforce.CodeRequestLimitExceeded, wantHTTP: 403,
		},
		{
			name: "validation rule",
			setup: func(e *env) {
				e.sim.AddValidationRule("Account", "Name", "Name must not be bad", func(r map[string]any) bool { return r["Name"] == "bad" })
			},
			call: func(e *env) error {
				return e.client.Do(testContextOf(e), http.MethodPost, "/sobjects/Account", map[string]any{"Name": "bad"}, nil)
			},
			wantClass: connectorlib.ClassPermanent, wantCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", wantHTTP: 400, wantField: "Name",
		},
		{
			name: "required field missing",
			call: func(e *env) error {
				return e.client.Do(testContextOf(e), http.MethodPost, "/sobjects/Contact", map[string]any{"FirstName": "Ada"}, nil)
			},
			wantClass: connectorlib.ClassPermanent, wantCode: "REQUIRED_FIELD_MISSING", wantHTTP: 400, wantField: "LastName",
		},
		{
			name: "malformed query",
			call: func(e *env) error {
				return e.client.Query(testContextOf(e), "SELEC Id FROM Account", func(map[string]any) error { return nil })
			},
			wantClass: connectorlib.ClassPermanent, wantCode: "MALFORMED_QUERY", wantHTTP: 400,
		},
		{
			name: "record not found",
			call: func(e *env) error {
				return e.client.Do(testContextOf(e), http.MethodGet, "/sobjects/Account/001000000000000AAA", nil, nil)
			},
			wantClass: connectorlib.ClassPermanent, wantCode: "NOT_FOUND", wantHTTP: 404,
		},
		{
			name: "method not allowed",
			call: func(e *env) error {
				return e.client.Do(testContextOf(e), http.MethodDelete, "/sobjects/Account/describe", nil, nil)
			},
			wantClass: connectorlib.ClassPermanent, wantCode: "METHOD_NOT_ALLOWED", wantHTTP: 405,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{rec: func(r *recorder) { r.modify = tt.modify }})
			if tt.setup != nil {
				tt.setup(e)
			}
			err := tt.call(e)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			if got := connectorlib.Classify(err); got != tt.wantClass {
				t.Errorf("class = %s, want %s (error %v)", got, tt.wantClass, err)
			}
			var ae *salesforce.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if ae.Status != tt.wantHTTP || ae.Code != tt.wantCode {
				t.Errorf("APIError = %d %q, want %d %q", ae.Status, ae.Code, tt.wantHTTP, tt.wantCode)
			}
			if tt.wantClass == connectorlib.ClassPermanent && connectorlib.Code(err) != tt.wantCode {
				t.Errorf("connectorlib.Code = %q, want %q", connectorlib.Code(err), tt.wantCode)
			}
			if tt.wantField != "" && !slices.Contains(ae.Fields, tt.wantField) {
				t.Errorf("fields = %v, want %s among them", ae.Fields, tt.wantField)
			}
			if after, ok := connectorlib.RetryAfter(err); ok != (tt.wantAfter > 0) || after != tt.wantAfter {
				t.Errorf("RetryAfter = %v, %v; want %v", after, ok, tt.wantAfter)
			}
			if got := e.rec.tokenRequests(); got != 1 {
				t.Errorf("%d token requests, want 1: errors other than 401 keep the session", got)
			}
		})
	}
}

func describeAccount(e *env) error {
	_, err := e.client.Describe(testContextOf(e), "Account")
	return err
}

// testContextOf is testContext for table cases that only hold the env.
func testContextOf(e *env) context.Context { return testContext(e.t) }

func TestClient_APIUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	if _, _, ok := e.client.APIUsage(); ok {
		t.Error("APIUsage reports usage before any call")
	}
	e.sim.SetAPIBudget(100, 5000)
	if _, err := e.client.Describe(testContext(t), "Account"); err != nil {
		t.Fatal(err)
	}
	if used, limit, ok := e.client.APIUsage(); !ok || used != 101 || limit != 5000 {
		t.Errorf("APIUsage = %d/%d, %v; want 101/5000", used, limit, ok)
	}
	// Errors report usage too.
	e.sim.SetAPIBudget(5000, 5000)
	_, _ = e.client.Describe(testContext(t), "Account")
	if used, limit, ok := e.client.APIUsage(); !ok || used != 5000 || limit != 5000 {
		t.Errorf("APIUsage after REQUEST_LIMIT_EXCEEDED = %d/%d, %v; want 5000/5000", used, limit, ok)
	}
}

func TestClient_APIUsage_NewerHeaderForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{rec: func(r *recorder) {
		r.modify = func(req *http.Request, resp *http.Response) {
			if strings.HasPrefix(req.URL.Path, restPrefix) {
				resp.Header.Set("Sforce-Limit-Info", "api-usage=10018/100000; api-bursts=1/750")
			}
		}
	}})
	if _, err := e.client.Describe(testContext(t), "Account"); err != nil {
		t.Fatal(err)
	}
	if used, limit, ok := e.client.APIUsage(); !ok || used != 10018 || limit != 100000 {
		t.Errorf("APIUsage = %d/%d, %v; want 10018/100000", used, limit, ok)
	}
}

func TestClient_Do_CallOptions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		clientID string
		want     string
	}{
		{name: "set", clientID: "sfconnect-sink", want: "client=sfconnect-sink"},
		{name: "unset", want: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{client: salesforce.ClientConfig{CallClientID: tt.clientID}})
			ctx := testContext(t)
			var created struct {
				ID      string `json:"id"`
				Success bool   `json:"success"`
			}
			if err := e.client.Do(ctx, http.MethodPost, "/sobjects/Account", map[string]any{"Name": "Origin"}, &created); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.Retrieve(ctx, "Account", []string{created.ID}, []string{"Name"}); err != nil {
				t.Fatal(err)
			}
			if err := e.client.Query(ctx, "SELECT Id FROM Account", func(map[string]any) error { return nil }); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range e.rec.requests() {
				if !strings.HasPrefix(r.path, restPrefix) {
					if r.header.Get("Sforce-Call-Options") != "" {
						t.Errorf("%s %s carries Sforce-Call-Options", r.method, r.path)
					}
					continue
				}
				n++
				if got := r.header.Get("Sforce-Call-Options"); got != tt.want {
					t.Errorf("%s %s: Sforce-Call-Options = %q, want %q", r.method, r.path, got, tt.want)
				}
			}
			if n != 3 {
				t.Errorf("%d REST requests, want 3", n)
			}
		})
	}
}

func TestClient_Do(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	var created struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
	}
	if err := e.client.Do(ctx, http.MethodPost, "sobjects/Account", map[string]any{"Name": "Acme"}, &created); err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created.Success || created.ID == "" {
		t.Fatalf("create answered %+v", created)
	}
	// 204: out stays as it was.
	out := json.RawMessage(`"untouched"`)
	if err := e.client.Do(ctx, http.MethodPatch, "/sobjects/Account/"+created.ID, json.RawMessage(`{"Name":"Acme 2"}`), &out); err != nil {
		t.Fatalf("update: %v", err)
	}
	if string(out) != `"untouched"` {
		t.Errorf("204 answer changed out to %s", out)
	}
	// An instance-relative path, as a Location header gives it; numbers
	// in interface values are json.Number.
	var rec map[string]any
	if err := e.client.Do(ctx, http.MethodGet, "/services/data/v62.0/sobjects/Account/"+created.ID, nil, &rec); err != nil {
		t.Fatalf("get: %v", err)
	}
	if rec["Name"] != "Acme 2" {
		t.Errorf("record Name = %v, want Acme 2", rec["Name"])
	}
	var limits map[string]any
	if err := e.client.Do(ctx, http.MethodGet, "/limits", nil, &limits); err != nil {
		t.Fatalf("limits: %v", err)
	}
	daily, _ := limits["DailyApiRequests"].(map[string]any)
	if _, ok := daily["Max"].(json.Number); !ok {
		t.Errorf("DailyApiRequests.Max is %T, want json.Number", daily["Max"])
	}

	err := e.client.Do(ctx, http.MethodGet, "https://elsewhere.example/services/data/v62.0/limits", nil, nil)
	if err == nil || connectorlib.IsRetryable(err) {
		t.Errorf("Do with an absolute URL = %v, want a permanent error", err)
	}
	err = e.client.Do(ctx, http.MethodPost, "/sobjects/Account", map[string]any{"bad": make(chan int)}, nil)
	if err == nil || connectorlib.IsRetryable(err) {
		t.Errorf("Do with an unencodable body = %v, want a permanent error", err)
	}
}

func TestClient_Query_Paging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	const n = 4500 // three pages of up to 2,000
	want := make([]string, n)
	err := e.sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range n {
			id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprintf("Account %04d", i), "NumberOfEmployees": i})
			if err != nil {
				return err
			}
			want[i] = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, resource := range []string{"query", "queryAll"} {
		t.Run(resource, func(t *testing.T) {
			query := e.client.Query
			if resource == "queryAll" {
				query = e.client.QueryAll
			}
			before := e.rec.count(http.MethodGet, restPrefix)
			names := map[string]bool{}
			err := query(ctx, "SELECT Id, Name, NumberOfEmployees FROM Account", func(rec map[string]any) error {
				if _, ok := rec["attributes"]; ok {
					t.Fatalf("record has attributes: %v", rec)
				}
				if _, ok := rec["NumberOfEmployees"].(json.Number); !ok {
					t.Fatalf("NumberOfEmployees is %T, want json.Number", rec["NumberOfEmployees"])
				}
				names[rec["Name"].(string)] = true
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", resource, err)
			}
			if len(names) != n {
				t.Errorf("%d distinct records, want %d", len(names), n)
			}
			if got := e.rec.count(http.MethodGet, restPrefix) - before; got != 3 {
				t.Errorf("%d page requests, want 3", got)
			}
		})
	}

	t.Run("fn error stops paging", func(t *testing.T) {
		before := e.rec.count(http.MethodGet, restPrefix)
		stop := errors.New("enough")
		seen := 0
		err := e.client.Query(ctx, "SELECT Id FROM Account", func(map[string]any) error {
			seen++
			if seen == 10 {
				return stop
			}
			return nil
		})
		if err != stop || seen != 10 {
			t.Errorf("Query = %v after %d records, want the callback's error after 10", err, seen)
		}
		if got := e.rec.count(http.MethodGet, restPrefix) - before; got != 1 {
			t.Errorf("%d page requests, want 1", got)
		}
	})

	t.Run("retrieve in chunks", func(t *testing.T) {
		before := e.rec.count(http.MethodPost, restPrefix)
		recs, err := e.client.Retrieve(ctx, "Account", want, nil)
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		if len(recs) != n {
			t.Fatalf("%d records, want %d", len(recs), n)
		}
		for i, rec := range recs {
			if rec["Id"] != want[i] {
				t.Fatalf("record %d has Id %v, want %s (request order)", i, rec["Id"], want[i])
			}
		}
		if got := e.rec.count(http.MethodPost, restPrefix) - before; got != 3 {
			t.Errorf("%d retrieve requests, want 3 (2,000 ids each)", got)
		}
	})
}

func TestClient_Retrieve_SkipsDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	var ids []string
	for _, name := range []string{"Alpha", "Beta", "Gamma"} {
		id, err := e.sim.Create("Account", map[string]any{"Name": name, "Phone": "555-0100"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := e.sim.Delete("Account", ids[1]); err != nil {
		t.Fatal(err)
	}
	recs, err := e.client.Retrieve(ctx, "Account", ids, []string{"Name"})
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	want := []map[string]any{{"Id": ids[0], "Name": "Alpha"}, {"Id": ids[2], "Name": "Gamma"}}
	if len(recs) != len(want) {
		t.Fatalf("Retrieve = %v, want %v", recs, want)
	}
	for i := range want {
		if len(recs[i]) != len(want[i]) || recs[i]["Id"] != want[i]["Id"] || recs[i]["Name"] != want[i]["Name"] {
			t.Errorf("record %d = %v, want %v (Id added, attributes removed)", i, recs[i], want[i])
		}
	}
	if recs, err := e.client.Retrieve(ctx, "Account", nil, []string{"Name"}); recs != nil || err != nil {
		t.Errorf("Retrieve of no ids = %v, %v; want nothing and no request", recs, err)
	}
	_, err = e.client.Retrieve(ctx, "Account", ids, []string{"NoSuchField__c"})
	if err == nil || connectorlib.IsRetryable(err) {
		t.Errorf("Retrieve of an unknown field = %v, want a permanent error", err)
	}
}
