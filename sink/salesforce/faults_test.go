package salesforce_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// TestSink_Write_ExpiredSession checks that a 401 makes the client log in
// again once and the write succeeds.
func TestSink_Write_ExpiredSession(t *testing.T) {
	e := newEnv(t, baseConfig())
	e.sim.ExpireTokens()
	if err := e.write(t, records(t, "webapp", upsert("customer", "x", map[string]any{"name": "X"}, time.Now()))); err != nil {
		t.Fatalf("Write after the session expired: %v", err)
	}
	if byExternalID(t, e.sim, "Account")["x"] == nil {
		t.Error("record not written")
	}
}

// TestSink_Write_Overload checks REQUEST_LIMIT_EXCEEDED and 503: Write
// fails retryably, nothing is lost, and after BreakerFailures of them in a
// row the breaker refuses calls without reaching Salesforce.
func TestSink_Write_Overload(t *testing.T) {
	cfg := baseConfig()
	cfg.BreakerFailures = 2
	cfg.BreakerCooldown = 300 * time.Millisecond
	e := newEnv(t, cfg)
	batch := records(t, "webapp", upsert("customer", "x", map[string]any{"name": "X"}, time.Now()))
	e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 403, ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."})
	e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 503, Message: "Service Unavailable"})
	for i, want := range []string{"REQUEST_LIMIT_EXCEEDED", "503"} {
		err := e.write(t, batch)
		if err == nil || !connectorlib.IsRetryable(err) {
			t.Fatalf("Write %d under %s returned %v; want a retryable error", i, want, err)
		}
	}
	// Open now: the next Write is refused without a request.
	before := e.apiUsed()
	err := e.write(t, batch)
	if !errors.Is(err, sfsink.ErrBreakerOpen) {
		t.Fatalf("Write with the breaker open returned %v; want ErrBreakerOpen", err)
	}
	if after, ok := connectorlib.RetryAfter(err); !ok || after <= 0 || after > cfg.BreakerCooldown {
		t.Errorf("RetryAfter = %v, %v; want the rest of the %v cooldown", after, ok, cfg.BreakerCooldown)
	}
	if used := e.apiUsed() - before; used != 0 {
		t.Errorf("the open breaker let %d requests through", used)
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_breaker_open"); got != 1 {
		t.Errorf("breaker_open = %v; want 1", got)
	}
	time.Sleep(cfg.BreakerCooldown + 50*time.Millisecond)
	if err := e.write(t, batch); err != nil {
		t.Fatalf("Write after the cooldown: %v", err)
	}
	if byExternalID(t, e.sim, "Account")["x"] == nil {
		t.Error("record not written after recovery")
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_breaker_open"); got != 0 {
		t.Errorf("breaker_open = %v after a good call; want 0", got)
	}
}

// TestSink_Write_BudgetReserve checks that the remaining daily budget is
// exported and that inside the reserve calls are spaced by the interval.
func TestSink_Write_BudgetReserve(t *testing.T) {
	cfg := baseConfig()
	cfg.APIReservePercent = 10
	cfg.APIReserveInterval = 200 * time.Millisecond
	e := newEnv(t, cfg)
	e.sim.SetAPIBudget(0, 1000)
	if err := e.write(t, records(t, "webapp", upsert("customer", "a", map[string]any{"name": "A"}, time.Now()))); err != nil {
		t.Fatal(err)
	}
	if left := metric(t, e, "sfconnect_salesforce_sink_api_budget_remaining"); left != 998 {
		t.Errorf("api_budget_remaining = %v; want 998 (1000 minus the lookup and the write)", left)
	}
	// 950 used: 50 left, inside the 10% reserve. A batch needing two calls
	// (lookup, write) after a first call waits at least one interval each
	// after the first.
	e.sim.SetAPIBudget(950, 1000)
	if err := e.write(t, records(t, "webapp", upsert("customer", "b", map[string]any{"name": "B"}, time.Now()))); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.write(t, records(t, "webapp", upsert("customer", "c", map[string]any{"name": "C"}, time.Now()))); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*cfg.APIReserveInterval-20*time.Millisecond {
		t.Errorf("two calls inside the reserve took %v; want them spaced by %v", took, cfg.APIReserveInterval)
	}
	if left := metric(t, e, "sfconnect_salesforce_sink_api_budget_remaining"); left != 46 {
		t.Errorf("api_budget_remaining = %v; want 46", left)
	}
}

// TestSink_Write_Coalesces checks that many changes to few records in one
// batch become one write per record, in order, with one lookup and one
// write request.
func TestSink_Write_Coalesces(t *testing.T) {
	e := newEnv(t, baseConfig())
	t0 := time.Now()
	var cs []ch
	for i := range 50 {
		x := fmt.Sprintf("r%d", i%5)
		cs = append(cs, upsert("customer", x, map[string]any{"name": fmt.Sprintf("%s v%d", x, i), "phone": fmt.Sprint(i)}, t0.Add(time.Duration(i)*time.Millisecond)))
	}
	// Delete r0, then recreate it: two rounds.
	cs = append(cs, del("customer", "r0", t0.Add(time.Second)), upsert("customer", "r0", map[string]any{"name": "reborn"}, t0.Add(2*time.Second)))
	before := e.apiUsed()
	if err := e.write(t, records(t, "webapp", cs...)); err != nil {
		t.Fatal(err)
	}
	acc := byExternalID(t, e.sim, "Account")
	if len(acc) != 5 {
		t.Fatalf("%d Accounts; want 5", len(acc))
	}
	for i := 1; i < 5; i++ {
		x := fmt.Sprintf("r%d", i)
		last := 45 + i
		if acc[x]["Name"] != fmt.Sprintf("%s v%d", x, last) || acc[x]["Phone"] != fmt.Sprint(last) {
			t.Errorf("%s = %v %v; want the last change (v%d)", x, acc[x]["Name"], acc[x]["Phone"], last)
		}
	}
	if acc["r0"]["Name"] != "reborn" || acc["r0"]["Phone"] != nil {
		t.Errorf("r0 = %v %v; want the recreated record", acc["r0"]["Name"], acc["r0"]["Phone"])
	}
	// Round 1: a lookup and one upsert of r1..r4; r0's upserts then
	// delete coalesce into a delete of a record that does not exist yet,
	// which needs no request. Round 2: a lookup and the upsert of r0.
	if calls := e.apiUsed() - before; calls != 4 {
		t.Errorf("%d API requests; want 4", calls)
	}
	// Writing the same values again is skipped: a lookup, no write.
	before = e.apiUsed()
	if err := e.write(t, records(t, "webapp", upsert("customer", "r1", map[string]any{"name": "r1 v46", "phone": "46"}, time.Now()))); err != nil {
		t.Fatal(err)
	}
	if calls := e.apiUsed() - before; calls != 1 {
		t.Errorf("an unchanged record took %d requests; want 1 (the lookup)", calls)
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_records_unchanged_total"); got != 1 {
		t.Errorf("records_unchanged = %v; want 1", got)
	}
}

// TestSink_Write_Bulk checks the Bulk API 2.0 path above the threshold:
// records are written through an ingest job, and a failed row comes back
// as that record's permanent error.
func TestSink_Write_Bulk(t *testing.T) {
	cfg := baseConfig()
	cfg.BulkThreshold = 10
	e := newEnv(t, cfg)
	e.sim.AddValidationRule("Account", "Phone", "Phone must not be 000", func(r map[string]any) bool { return r["Phone"] == "000" })
	var cs []ch
	for i := range 30 {
		phone := fmt.Sprint(i)
		if i == 7 {
			phone = "000"
		}
		cs = append(cs, upsert("customer", fmt.Sprintf("b%02d", i), map[string]any{"name": fmt.Sprintf("Bulk %d", i), "phone": phone}, time.Now()))
	}
	err := e.write(t, records(t, "webapp", cs...))
	var be *connectorlib.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[7] == nil {
		t.Fatalf("Write returned %v; want a BatchError naming index 7", err)
	}
	if code := connectorlib.Code(be.Failed[7]); code != "FIELD_CUSTOM_VALIDATION_EXCEPTION" || connectorlib.IsRetryable(be.Failed[7]) {
		t.Errorf("bulk row error %v (code %q); want permanent FIELD_CUSTOM_VALIDATION_EXCEPTION", be.Failed[7], code)
	}
	if acc := byExternalID(t, e.sim, "Account"); len(acc) != 29 || acc["b03"]["Phone"] != "3" {
		t.Errorf("%d Accounts (b03 %v); want 29", len(acc), acc["b03"])
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_api_calls_total", "api=bulk"); got < 6 {
		t.Errorf("api_calls{bulk} = %v; want at least 6 (create, upload, close, poll, 3 result sets)", got)
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_api_calls_total", "api=collections"); got != 0 {
		t.Errorf("api_calls{collections} = %v; want 0", got)
	}
}

// TestSink_Write_RetryKeepsRecordOrder fails the first write request of a
// batch whose record r0 is deleted and then recreated: the delete, the
// recreation (a later round, which must not run before the delete) and the
// other record's upsert all fail retryably; the retried batch then applies
// them in order.
func TestSink_Write_RetryKeepsRecordOrder(t *testing.T) {
	e := newEnv(t, baseConfig())
	if err := e.write(t, records(t, "webapp", upsert("customer", "r0", map[string]any{"name": "old"}, time.Now()))); err != nil {
		t.Fatal(err)
	}
	oldID := byExternalID(t, e.sim, "Account")["r0"]["Id"]
	now := time.Now()
	batch := records(t, "webapp",
		del("customer", "r0", now),
		upsert("customer", "r0", map[string]any{"name": "new"}, now.Add(time.Millisecond)),
		upsert("customer", "r1", map[string]any{"name": "one"}, now))
	e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{})                                            // the lookup goes through
	e.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: 503, Message: "Service Unavailable"}) // the write fails
	err := e.write(t, batch)
	be := batchError(t, err)
	if len(be.Failed) != 3 {
		t.Fatalf("BatchError %v; want all 3 records failed retryably", err)
	}
	if acc := byExternalID(t, e.sim, "Account"); acc["r0"]["Id"] != oldID || acc["r0"]["Name"] != "old" || acc["r1"] != nil {
		t.Fatalf("after the failed write: r0 %v, r1 %v; want nothing changed", acc["r0"], acc["r1"])
	}
	if err := e.write(t, batch); err != nil {
		t.Fatalf("retry: %v", err)
	}
	acc := byExternalID(t, e.sim, "Account")
	if acc["r0"]["Name"] != "new" || acc["r0"]["Id"] == oldID || acc["r1"]["Name"] != "one" {
		t.Errorf("after the retry: r0 %v (old Id %v), r1 %v; want r0 recreated with a new Id, r1 written", acc["r0"], oldID, acc["r1"])
	}
}
