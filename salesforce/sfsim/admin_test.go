package sfsim_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// admin calls the control API under /sim/ with a raw JSON body ("" for
// none) and returns the status and the body.
func (e *env) admin(method, path, body string) (int, []byte) {
	e.t.Helper()
	h := http.Header{}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	resp, b := e.do(method, path, strings.NewReader(body), h)
	return resp.StatusCode, b
}

// adminJSON calls the control API, checks the status and decodes the body
// into out (when not nil).
func (e *env) adminJSON(method, path, body string, want int, out any) {
	e.t.Helper()
	code, b := e.admin(method, path, body)
	if code != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}
}

// badInput is a request the control API must refuse with a status.
type badInput struct {
	name, method, path, body string
	want                     int
}

// checkBad runs bad-input requests as subtests.
func (e *env) checkBad(t *testing.T, cases []badInput) {
	t.Helper()
	for _, c := range cases {
		code, body := e.admin(c.method, c.path, c.body)
		if code != c.want {
			t.Errorf("%s: %s %s %s: %d %s, want %d", c.name, c.method, c.path, c.body, code, body, c.want)
		}
		if c.want != http.StatusMethodNotAllowed && c.name != "unknown endpoint" && !json.Valid(body) {
			t.Errorf("%s: error body is not JSON: %s", c.name, body)
		}
	}
}

// TestAdmin_Records creates, updates, lists and deletes records over
// /sim/records: changes are visible over REST and arrive on Pub/Sub as UI
// changes.
func TestAdmin_Records(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/data/AccountChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)

	var created struct{ ID string }
	e.adminJSON(http.MethodPost, "/sim/records/Account", `{"Name":"Admin Co","Industry":"Retail"}`, http.StatusCreated, &created)
	if status, rec := e.restGet("Account", created.ID); status != http.StatusOK || rec["Name"] != "Admin Co" {
		t.Fatalf("REST get of the admin-created record: %d %v", status, rec)
	}
	e.adminJSON(http.MethodPatch, "/sim/records/Account/"+created.ID, `{"Industry":"Energy","Phone":null}`, http.StatusNoContent, nil)
	if _, rec := e.restGet("Account", created.ID); rec["Industry"] != "Energy" {
		t.Fatalf("REST get after the admin update: %v", rec)
	}
	var list []map[string]any
	e.adminJSON(http.MethodGet, "/sim/records/Account", "", http.StatusOK, &list)
	if len(list) != 1 || list[0]["Id"] != created.ID {
		t.Fatalf("GET /sim/records/Account = %v", list)
	}
	e.adminJSON(http.MethodDelete, "/sim/records/Account/"+created.ID, "", http.StatusNoContent, nil)
	if status, _ := e.restGet("Account", created.ID); status != http.StatusNotFound {
		t.Fatalf("REST get after the admin delete: %d", status)
	}

	for _, want := range []cdc.ChangeType{cdc.ChangeTypeCreate, cdc.ChangeTypeUpdate, cdc.ChangeTypeDelete} {
		ev := e.change(sub.next())
		if ev.Header.ChangeType != want || !slices.Equal(ev.Header.RecordIDs, []string{created.ID}) || ev.Header.ChangeOrigin != "" {
			t.Fatalf("event %+v, want a UI %s of %s", ev.Header, want, created.ID)
		}
	}

	missing := "001000000000999AAA"
	e.checkBad(t, []badInput{
		{"malformed create", http.MethodPost, "/sim/records/Account", `{"Name":`, http.StatusBadRequest},
		{"create with a list", http.MethodPost, "/sim/records/Account", `[1,2]`, http.StatusBadRequest},
		{"create without a required field", http.MethodPost, "/sim/records/Account", `{"Industry":"Retail"}`, http.StatusBadRequest},
		{"create with an unknown field", http.MethodPost, "/sim/records/Account", `{"Name":"x","Nope__c":1}`, http.StatusBadRequest},
		{"create of an unknown object", http.MethodPost, "/sim/records/Nope__c", `{"Name":"x"}`, http.StatusNotFound},
		{"list of an unknown object", http.MethodGet, "/sim/records/Nope__c", "", http.StatusNotFound},
		{"malformed update", http.MethodPatch, "/sim/records/Account/" + created.ID, `{`, http.StatusBadRequest},
		{"update of an unknown record", http.MethodPatch, "/sim/records/Account/" + missing, `{"Name":"x"}`, http.StatusNotFound},
		{"update of an unknown object", http.MethodPatch, "/sim/records/Nope__c/" + missing, `{"Name":"x"}`, http.StatusNotFound},
		{"delete of an unknown record", http.MethodDelete, "/sim/records/Account/" + missing, "", http.StatusNotFound},
		{"wrong method", http.MethodPut, "/sim/records/Account", `{}`, http.StatusMethodNotAllowed},
	})
	code, body := e.admin(http.MethodPost, "/sim/records/Account", `{"Industry":"Retail"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "REQUIRED_FIELD_MISSING") {
		t.Fatalf("create without Name: %d %s", code, body)
	}
	// Refused writes publish nothing.
	sub.none(100 * time.Millisecond)
}

// TestAdmin_Transaction commits several operations together over
// /sim/transaction; an unknown operation rolls everything back.
func TestAdmin_Transaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/data/ChangeEvents", pubsubpb.ReplayPreset_EARLIEST, nil)
	acct, err := e.sim.Create("Account", map[string]any{"Name": "Parent"})
	if err != nil {
		t.Fatal(err)
	}
	e.change(sub.next())

	var out struct{ IDs []string }
	e.adminJSON(http.MethodPost, "/sim/transaction", `{"ops":[
		{"op":"create","object":"Contact","fields":{"LastName":"One","AccountId":"`+acct+`"}},
		{"op":"create","object":"Contact","fields":{"LastName":"Two"}},
		{"op":"update","object":"Account","id":"`+acct+`","fields":{"Rating":"Warm"}}
	]}`, http.StatusOK, &out)
	if len(out.IDs) != 3 || out.IDs[2] != acct || !strings.HasPrefix(out.IDs[0], "003") {
		t.Fatalf("ids = %v", out.IDs)
	}
	var key string
	for i, want := range []struct {
		entity string
		ct     cdc.ChangeType
	}{{"Contact", cdc.ChangeTypeCreate}, {"Contact", cdc.ChangeTypeCreate}, {"Account", cdc.ChangeTypeUpdate}} {
		ev := e.change(sub.next())
		h := ev.Header
		if h.EntityName != want.entity || h.ChangeType != want.ct || !slices.Equal(h.RecordIDs, out.IDs[i:i+1]) || int(h.SequenceNumber) != i+1 {
			t.Fatalf("event %d = %+v", i, h)
		}
		if i == 0 {
			key = h.TransactionKey
		} else if h.TransactionKey != key {
			t.Fatalf("event %d has transaction key %s, want %s", i, h.TransactionKey, key)
		}
	}

	e.checkBad(t, []badInput{
		{"malformed", http.MethodPost, "/sim/transaction", `{"ops":[`, http.StatusBadRequest},
		{"unknown op", http.MethodPost, "/sim/transaction", `{"ops":[{"op":"create","object":"Account","fields":{"Name":"Rolled back"}},{"op":"merge","object":"Account"}]}`, http.StatusBadRequest},
		{"failing op", http.MethodPost, "/sim/transaction", `{"ops":[{"op":"create","object":"Account","fields":{"Name":"Rolled back"}},{"op":"delete","object":"Account","id":"001000000000999AAA"}]}`, http.StatusNotFound},
	})
	sub.none(100 * time.Millisecond)
	if recs, _ := e.sim.Records("Account"); len(recs) != 1 {
		t.Fatalf("%d accounts after rolled back transactions, want 1", len(recs))
	}

	// delete and undelete ops.
	e.adminJSON(http.MethodPost, "/sim/transaction", `{"ops":[{"op":"delete","object":"Account","id":"`+acct+`"}]}`, http.StatusOK, nil)
	e.adminJSON(http.MethodPost, "/sim/transaction", `{"ops":[{"op":"undelete","object":"Account","id":"`+acct+`"}]}`, http.StatusOK, nil)
	for _, want := range []cdc.ChangeType{cdc.ChangeTypeDelete, cdc.ChangeTypeUndelete} {
		if ev := e.change(sub.next()); ev.Header.ChangeType != want {
			t.Fatalf("event %+v, want %s", ev.Header, want)
		}
	}
}

// TestAdmin_Events publishes a platform event over /sim/events; it arrives
// on Pub/Sub and CometD.
func TestAdmin_Events(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	b := e.bayeux(e.token)
	b.handshake()
	b.subscribe("/event/Order__e", -2)

	var out struct{ ReplayID int64 }
	e.adminJSON(http.MethodPost, "/sim/events/Order__e", `{"OrderNumber__c":"A-1","Amount__c":3}`, http.StatusOK, &out)
	ce := sub.next()
	if replayID(t, ce) != out.ReplayID || e.platform(ce)["OrderNumber__c"] != "A-1" {
		t.Fatalf("Pub/Sub event %d %v, want replay %d", replayID(t, ce), e.platform(ce), out.ReplayID)
	}
	m := b.await("/event/Order__e", 1)[0]
	if payload(m)["Amount__c"] != 3.0 {
		t.Fatalf("CometD event %v", m)
	}
	if data, _ := m["data"].(map[string]any); data["event"].(map[string]any)["replayId"] != float64(out.ReplayID) {
		t.Fatalf("CometD replayId %v, want %d", data["event"], out.ReplayID)
	}

	e.checkBad(t, []badInput{
		{"malformed", http.MethodPost, "/sim/events/Order__e", `{"OrderNumber__c"}`, http.StatusBadRequest},
		{"unknown field", http.MethodPost, "/sim/events/Order__e", `{"Bogus__c":1}`, http.StatusBadRequest},
		{"unknown event", http.MethodPost, "/sim/events/Nope__e", `{}`, http.StatusNotFound},
	})
	sub.none(100 * time.Millisecond)
}

// TestAdmin_TokensAndStreams expires tokens and drops streams over the
// control API.
func TestAdmin_TokensAndStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/event/Order__e", pubsubpb.ReplayPreset_EARLIEST, nil)
	e.adminJSON(http.MethodPost, "/sim/events/Order__e", `{"OrderNumber__c":"live"}`, http.StatusOK, nil)
	sub.next()

	e.adminJSON(http.MethodPost, "/sim/streams/drop", "", http.StatusNoContent, nil)
	if err := sub.end(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Subscribe after /sim/streams/drop: %v", err)
	}
	if resp, _ := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("dropping streams expired the token: %d", resp.StatusCode)
	}

	e.adminJSON(http.MethodPost, "/sim/tokens/expire", "", http.StatusNoContent, nil)
	if resp, body := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusUnauthorized || string(body) != invalidSession {
		t.Fatalf("REST after /sim/tokens/expire: %d %s", resp.StatusCode, body)
	}
	_, code, err := e.getTopic(e.token, "/event/Order__e")
	wantStatus(t, "GetTopic after /sim/tokens/expire", err, code, codes.Unauthenticated, pubsub.ErrorCodeAuthError)
	e.checkBad(t, []badInput{
		{"expire with GET", http.MethodGet, "/sim/tokens/expire", "", http.StatusMethodNotAllowed},
		{"drop with GET", http.MethodGet, "/sim/streams/drop", "", http.StatusMethodNotAllowed},
	})
}

// TestAdmin_Faults queues failures and a throttle over /sim/faults.
func TestAdmin_Faults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.adminJSON(http.MethodPost, "/sim/faults", `{"surface":"rest","count":2,"status":503,"errorCode":"SERVER_UNAVAILABLE","message":"down"}`, http.StatusNoContent, nil)
	for i := range 2 {
		resp, body := e.rest(e.token, http.MethodGet, "/limits", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || string(body) != `[{"errorCode":"SERVER_UNAVAILABLE","message":"down"}]` {
			t.Fatalf("REST call %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if resp, _ := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("REST call 3: %d", resp.StatusCode)
	}

	// count defaults to 1.
	e.adminJSON(http.MethodPost, "/sim/faults", `{"surface":"pubsub","status":503}`, http.StatusNoContent, nil)
	_, code, err := e.getTopic(e.token, "/event/Order__e")
	wantStatus(t, "GetTopic with a fault", err, code, codes.Unavailable, pubsub.ErrorCodeServiceUnavailable)
	if _, _, err := e.getTopic(e.token, "/event/Order__e"); err != nil {
		t.Fatalf("second GetTopic: %v", err)
	}

	e.adminJSON(http.MethodPost, "/sim/faults", `{"surface":"oauth","delayMs":250}`, http.StatusNoContent, nil)
	start := time.Now()
	e.login()
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("throttled login took %v", took)
	}

	e.adminJSON(http.MethodPost, "/sim/faults", `{"surface":"cometd","count":1,"status":500}`, http.StatusNoContent, nil)
	if code, _ := e.bayeux(e.token).send(map[string]any{"channel": "/meta/handshake"}); code != http.StatusInternalServerError {
		t.Fatalf("CometD with a fault: %d", code)
	}
	e.bayeux(e.token).handshake()

	e.checkBad(t, []badInput{
		{"malformed", http.MethodPost, "/sim/faults", `{"surface":`, http.StatusBadRequest},
		{"unknown surface", http.MethodPost, "/sim/faults", `{"surface":"soap","status":500}`, http.StatusBadRequest},
		{"no surface", http.MethodPost, "/sim/faults", `{"status":500}`, http.StatusBadRequest},
		{"wrong type", http.MethodPost, "/sim/faults", `{"surface":"rest","status":"500"}`, http.StatusBadRequest},
		{"misspelt key", http.MethodPost, "/sim/faults", `{"surface":"rest","staus":503}`, http.StatusBadRequest},
		{"trailing data", http.MethodPost, "/sim/faults", `{"surface":"rest","status":503} {}`, http.StatusBadRequest},
		{"fault that does nothing", http.MethodPost, "/sim/faults", `{"surface":"rest","count":3}`, http.StatusBadRequest},
		{"success status", http.MethodPost, "/sim/faults", `{"surface":"rest","status":200}`, http.StatusBadRequest},
		{"negative delay", http.MethodPost, "/sim/faults", `{"surface":"rest","delayMs":-5}`, http.StatusBadRequest},
		{"delay in nanoseconds", http.MethodPost, "/sim/faults", `{"surface":"rest","delay":250}`, http.StatusBadRequest},
	})
	// Refused faults queue nothing.
	if resp, _ := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("REST after refused faults: %d", resp.StatusCode)
	}
}

// TestAdmin_GapAndOverflow injects gap and overflow events over the
// control API.
func TestAdmin_GapAndOverflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub := e.subscribe(e.token, "/data/ContactChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)
	var gap, overflow struct{ ReplayID int64 }
	e.adminJSON(http.MethodPost, "/sim/gap", `{"object":"Contact","recordIds":["003000000000001AAA"],"changeType":"GAP_DELETE"}`, http.StatusOK, &gap)
	e.adminJSON(http.MethodPost, "/sim/overflow", `{"object":"Contact"}`, http.StatusOK, &overflow)
	for _, want := range []struct {
		replay int64
		ct     cdc.ChangeType
		ids    []string
	}{{gap.ReplayID, cdc.ChangeTypeGapDelete, []string{"003000000000001AAA"}}, {overflow.ReplayID, cdc.ChangeTypeGapOverflow, []string{"000000000000000AAA"}}} {
		ce := sub.next()
		ev := e.change(ce)
		if replayID(t, ce) != want.replay || ev.Header.ChangeType != want.ct || !slices.Equal(ev.Header.RecordIDs, want.ids) || len(ev.Fields) != 0 {
			t.Fatalf("event %d = %+v %v, want %s of %v at %d", replayID(t, ce), ev.Header, ev.Fields, want.ct, want.ids, want.replay)
		}
	}
	e.checkBad(t, []badInput{
		{"malformed gap", http.MethodPost, "/sim/gap", `{"object":"Contact",`, http.StatusBadRequest},
		{"bad change type", http.MethodPost, "/sim/gap", `{"object":"Contact","recordIds":["003000000000001AAA"],"changeType":"UPDATE"}`, http.StatusBadRequest},
		{"gap of an unknown object", http.MethodPost, "/sim/gap", `{"object":"Nope__c","recordIds":["a00000000000001AAA"],"changeType":"GAP_UPDATE"}`, http.StatusNotFound},
		{"malformed overflow", http.MethodPost, "/sim/overflow", `{"object":}`, http.StatusBadRequest},
		{"overflow of an unknown object", http.MethodPost, "/sim/overflow", `{"object":"Nope__c"}`, http.StatusNotFound},
	})
	sub.none(100 * time.Millisecond)
}

// TestAdmin_ClockBudgetFieldsStatus covers /sim/clock/advance,
// /sim/budget, /sim/fields and /sim/status.
func TestAdmin_ClockBudgetFieldsStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type simStatus struct {
		OrgID            string
		LatestReplayID   int64
		EarliestReplayID int64
		APIUsed          int
		APILimit         int
		Objects          []string
		Now              time.Time
	}
	var st simStatus
	e.adminJSON(http.MethodGet, "/sim/status", "", http.StatusOK, &st)
	if st.OrgID != e.sim.OrgID() || st.LatestReplayID != 0 || st.APILimit != 100_000 ||
		!slices.Contains(st.Objects, "Account") || !slices.Contains(st.Objects, "Lead") {
		t.Fatalf("status = %+v", st)
	}
	e.adminJSON(http.MethodPost, "/sim/events/Order__e", `{"OrderNumber__c":"1"}`, http.StatusOK, nil)
	if resp, _ := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	var st2 simStatus
	e.adminJSON(http.MethodGet, "/sim/status", "", http.StatusOK, &st2)
	if st2.LatestReplayID != 1 || st2.APIUsed != 1 {
		t.Fatalf("status after an event and a REST call = %+v", st2)
	}

	// Budget.
	var budget struct{ Used, Limit int }
	e.adminJSON(http.MethodGet, "/sim/budget", "", http.StatusOK, &budget)
	if budget.Used != 1 || budget.Limit != 100_000 {
		t.Fatalf("budget = %+v", budget)
	}
	e.adminJSON(http.MethodPut, "/sim/budget", `{"used":50,"limit":50}`, http.StatusNoContent, nil)
	resp, body := e.rest(e.token, http.MethodGet, "/limits", nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "REQUEST_LIMIT_EXCEEDED") || resp.Header.Get("Sforce-Limit-Info") != "api-usage=50/50" {
		t.Fatalf("REST over the budget: %d %q %s", resp.StatusCode, resp.Header.Get("Sforce-Limit-Info"), body)
	}
	e.adminJSON(http.MethodGet, "/sim/budget", "", http.StatusOK, &budget)
	if budget.Used != 50 || budget.Limit != 50 {
		t.Fatalf("budget = %+v", budget)
	}
	e.adminJSON(http.MethodPut, "/sim/budget", `{"used":0,"limit":1000}`, http.StatusNoContent, nil)

	// Fields.
	sub := e.subscribe(e.token, "/data/LeadChangeEvent", pubsubpb.ReplayPreset_EARLIEST, nil)
	id, err := e.sim.Create("Lead", map[string]any{"LastName": "Before", "Company": "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	before := sub.next()
	e.adminJSON(http.MethodPost, "/sim/fields/Lead", `{"name":"Score__c","type":"double","nillable":true,"createable":true,"updateable":true}`, http.StatusNoContent, nil)
	resp, body = e.rest(e.token, http.MethodGet, "/sobjects/Lead/describe", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"Score__c"`) {
		t.Fatalf("describe after /sim/fields: %d", resp.StatusCode)
	}
	if resp, body := e.rest(e.token, http.MethodPatch, "/sobjects/Lead/"+id, map[string]any{"Score__c": 7.5}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("REST update of the new field: %d %s", resp.StatusCode, body)
	}
	after := sub.next()
	if before.GetEvent().GetSchemaId() == after.GetEvent().GetSchemaId() || e.change(after).Fields["Score__c"] != 7.5 {
		t.Fatalf("event after /sim/fields: schema %s (was %s), fields %v", after.GetEvent().GetSchemaId(), before.GetEvent().GetSchemaId(), e.change(after).Fields)
	}
	if d, _ := e.sim.Describe("Lead"); d.Fields[len(d.Fields)-1].Label != "Score__c" {
		t.Fatalf("the label of a field added without one = %q, want its name", d.Fields[len(d.Fields)-1].Label)
	}

	// Clock: a two-hour jump expires the tokens (TTL 2h).
	e.adminJSON(http.MethodPost, "/sim/clock/advance", `{"seconds":7200}`, http.StatusNoContent, nil)
	var st3 simStatus
	e.adminJSON(http.MethodGet, "/sim/status", "", http.StatusOK, &st3)
	if d := st3.Now.Sub(st2.Now); d < 2*time.Hour || d > 2*time.Hour+time.Minute {
		t.Fatalf("status now moved by %v, want 2h", d)
	}
	if resp, _ := e.rest(e.token, http.MethodGet, "/limits", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("REST after advancing past the token TTL: %d", resp.StatusCode)
	}

	e.checkBad(t, []badInput{
		{"malformed budget", http.MethodPut, "/sim/budget", `{"used":`, http.StatusBadRequest},
		{"zero limit", http.MethodPut, "/sim/budget", `{"used":0,"limit":0}`, http.StatusBadRequest},
		{"negative used", http.MethodPut, "/sim/budget", `{"used":-1,"limit":10}`, http.StatusBadRequest},
		{"budget with an unknown key", http.MethodPut, "/sim/budget", `{"used":1,"limit":10,"remaining":9}`, http.StatusBadRequest},
		{"budget with POST", http.MethodPost, "/sim/budget", `{"used":1,"limit":10}`, http.StatusMethodNotAllowed},
		{"malformed field", http.MethodPost, "/sim/fields/Lead", `{"name":"X__c",`, http.StatusBadRequest},
		{"field without a type", http.MethodPost, "/sim/fields/Lead", `{"name":"X__c"}`, http.StatusBadRequest},
		{"field without a name", http.MethodPost, "/sim/fields/Lead", `{"type":"string"}`, http.StatusBadRequest},
		{"duplicate field", http.MethodPost, "/sim/fields/Lead", `{"name":"Score__c","type":"double"}`, http.StatusBadRequest},
		{"field of an unknown object", http.MethodPost, "/sim/fields/Nope__c", `{"name":"X__c","type":"string"}`, http.StatusNotFound},
		{"malformed advance", http.MethodPost, "/sim/clock/advance", `{"seconds":"soon"}`, http.StatusBadRequest},
		{"zero advance", http.MethodPost, "/sim/clock/advance", `{"seconds":0}`, http.StatusBadRequest},
		{"negative advance", http.MethodPost, "/sim/clock/advance", `{"seconds":-60}`, http.StatusBadRequest},
		{"advance in minutes", http.MethodPost, "/sim/clock/advance", `{"seconds":60,"minutes":5}`, http.StatusBadRequest},
		{"status with POST", http.MethodPost, "/sim/status", `{}`, http.StatusMethodNotAllowed},
		{"unknown endpoint", http.MethodGet, "/sim/nope", "", http.StatusNotFound},
	})
	var st4 simStatus
	e.adminJSON(http.MethodGet, "/sim/status", "", http.StatusOK, &st4)
	if d := st4.Now.Sub(st3.Now); d > time.Minute {
		t.Fatalf("refused advances moved the clock by %v", d)
	}
	if st4.APILimit != 1000 {
		t.Fatalf("refused budgets changed the limit to %d", st4.APILimit)
	}
}
