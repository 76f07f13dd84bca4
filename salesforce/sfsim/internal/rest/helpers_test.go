package rest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// Test identity; the ids carry correct case-safe suffixes.
const (
	testOrgID  = "00D5g000004ABCDEA4"
	testUserID = "0055g00000AbCdEAAV"
	v          = "/services/data/v62.0"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a Handler over a fresh org, served over real HTTP.
type env struct {
	t     *testing.T
	org   *org.Org
	h     *Handler
	srv   *httptest.Server
	clock *fakeClock
	auth  *auth.Provider
	token string

	mu      sync.Mutex
	commits []*org.Commit
}

// legacyIDField is a non-unique external id on Account, so upserts can
// match several records.
var legacyIDField = salesforce.Field{Name: "Legacy_Id__c", Label: "Legacy Id", Type: "string", Length: 50,
	Nillable: true, Createable: true, Updateable: true, ExternalID: true}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	clock := &fakeClock{now: t0}
	o, err := org.New(org.Config{OrgID: testOrgID, UserID: testUserID, Now: clock.Now, DailyAPILimit: 15000})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.AddField("Account", legacyIDField); err != nil {
		t.Fatal(err)
	}
	p, err := auth.New(auth.Config{
		OrgID: testOrgID, UserID: testUserID, Username: "sim@example.com", Password: "pw",
		ClientID: "client", ClientSecret: "secret", Clock: clock.Now,
		InstanceURL: func() string { return "http://127.0.0.1" },
	})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := p.IssueToken()
	cfg := Config{Org: o, Auth: p, Now: clock.Now}
	for _, opt := range opts {
		opt(&cfg)
	}
	e := &env{t: t, org: o, clock: clock, auth: p, token: token}
	o.OnCommit(func(c *org.Commit) {
		e.mu.Lock()
		e.commits = append(e.commits, c)
		e.mu.Unlock()
	})
	e.h = New(cfg)
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(func() {
		e.srv.Close()
		e.h.Close()
	})
	return e
}

// takeCommits returns the commits so far and forgets them.
func (e *env) takeCommits() []*org.Commit {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.commits
	e.commits = nil
	return c
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the env's token. body is sent as is when it is
// a string or []byte, as JSON otherwise. headers are name, value pairs.
func (e *env) do(method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// want fails the test unless the response has the status.
func (r *resp) want(t *testing.T, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// decode unmarshals the body.
func (r *resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorsOf decodes an error array body.
func (r *resp) errorsOf(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	r.decode(t, &out)
	if len(out) == 0 {
		t.Fatalf("no errors in %s", r.body)
	}
	return out
}

// seed creates n accounts in one transaction and returns their ids.
func (e *env) seed(n int, fields func(i int) map[string]any) []string {
	e.t.Helper()
	tx := e.org.Begin(org.Origin{})
	ids := make([]string, n)
	for i := range n {
		id, err := tx.Create("Account", fields(i))
		if err != nil {
			tx.Rollback()
			e.t.Fatal(err)
		}
		ids[i] = id
	}
	tx.Commit()
	e.takeCommits()
	return ids
}

// count returns how many records of an object the org holds.
func (e *env) count(object string) int {
	e.t.Helper()
	recs, err := e.org.Records(object)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(recs)
}
