package salesforce_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// editAsOther changes an Account the way a person in the UI would.
func editAsOther(t *testing.T, sim *sfsim.Sim, id string, fields map[string]any) {
	t.Helper()
	if err := sim.TransactionAs(otherUser, func(tx *sfsim.Tx) error { return tx.Update("Account", id, fields) }); err != nil {
		t.Fatal(err)
	}
}

// seed creates Accounts through the sink (so the sink's user last modified
// them) and returns their Ids by external id.
func seed(t *testing.T, e *env, exts ...string) map[string]string {
	t.Helper()
	var cs []ch
	for _, x := range exts {
		cs = append(cs, upsert("customer", x, map[string]any{"name": "orig " + x, "phone": "100", "city": "Oslo"}, e.sim.Now().Add(-time.Hour)))
	}
	if err := e.write(t, records(t, "webapp", cs...)); err != nil {
		t.Fatalf("seed: %v", err)
	}
	ids := map[string]string{}
	for x, r := range byExternalID(t, e.sim, "Account") {
		ids[x] = r["Id"].(string)
	}
	return ids
}

func TestSink_Conflict_LastWriterWins(t *testing.T) {
	e := newEnv(t, baseConfig())
	ids := seed(t, e, "a", "b", "c")
	editAsOther(t, e.sim, ids["a"], map[string]any{"Phone": "sf-a"})
	editAsOther(t, e.sim, ids["b"], map[string]any{"Phone": "sf-b"})
	sfTime := e.sim.Now()
	err := e.write(t, records(t, "webapp",
		update("customer", "a", map[string]any{"phone": "web-a"}, sfTime.Add(-time.Minute)), // older than the SF edit: loses
		update("customer", "b", map[string]any{"phone": "web-b"}, sfTime.Add(time.Minute)),  // newer: wins
		update("customer", "c", map[string]any{"phone": "web-c"}, sfTime.Add(-time.Hour/2)), // only the sink wrote c: no conflict
	))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	acc := byExternalID(t, e.sim, "Account")
	if acc["a"]["Phone"] != "sf-a" || acc["b"]["Phone"] != "web-b" || acc["c"]["Phone"] != "web-c" {
		t.Errorf("phones a=%v b=%v c=%v; want sf-a web-b web-c", acc["a"]["Phone"], acc["b"]["Phone"], acc["c"]["Phone"])
	}
	cs := e.conflicts.all()
	if len(cs) != 1 {
		t.Fatalf("%d conflicts recorded; want 1: %+v", len(cs), cs)
	}
	c := cs[0]
	if c.Outcome != sfsink.OutcomeWebAppLost || c.Policy != sfsink.PolicyLastWriterWins || c.WebApp.ExternalID != "a" ||
		c.Salesforce["Phone"] != "sf-a" || c.Salesforce["LastModifiedById"] != otherUser || c.Salesforce["Id"] != ids["a"] {
		t.Errorf("conflict %+v (salesforce %v); want a's change, lost, with Salesforce's version", c, c.Salesforce)
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_conflicts_total", "outcome=webapp_lost"); got != 1 {
		t.Errorf("conflicts{webapp_lost} = %v; want 1", got)
	}
	// The sink's own write of b is not a conflict for b's next change,
	// even one made before the write happened.
	if err := e.write(t, records(t, "webapp", update("customer", "b", map[string]any{"city": "Bergen"}, sfTime))); err != nil {
		t.Fatal(err)
	}
	if got := byExternalID(t, e.sim, "Account")["b"]["BillingCity"]; got != "Bergen" || len(e.conflicts.all()) != 1 {
		t.Errorf("after the sink's own write: city %v, %d conflicts; want Bergen, 1", got, len(e.conflicts.all()))
	}
}

func TestSink_Conflict_SalesforceWins(t *testing.T) {
	cfg := baseConfig()
	cfg.ConflictPolicies = []string{"Account=salesforce_wins"}
	e := newEnv(t, cfg)
	ids := seed(t, e, "a", "b")
	editAsOther(t, e.sim, ids["a"], map[string]any{"Phone": "sf-a"})
	editAsOther(t, e.sim, ids["b"], map[string]any{"Phone": "sf-b"})
	sfTime := e.sim.Now()
	err := e.write(t, records(t, "webapp",
		update("customer", "a", map[string]any{"phone": "web-a"}, sfTime.Add(time.Minute)),    // within the 5m window: loses
		update("customer", "b", map[string]any{"phone": "web-b"}, sfTime.Add(10*time.Minute)), // after it: wins
	))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	acc := byExternalID(t, e.sim, "Account")
	if acc["a"]["Phone"] != "sf-a" || acc["b"]["Phone"] != "web-b" {
		t.Errorf("phones a=%v b=%v; want sf-a web-b", acc["a"]["Phone"], acc["b"]["Phone"])
	}
	if cs := e.conflicts.all(); len(cs) != 1 || cs[0].WebApp.ExternalID != "a" || cs[0].Policy != sfsink.PolicySalesforceWins {
		t.Errorf("conflicts %+v; want a's change under salesforce_wins", cs)
	}
}

func TestSink_Conflict_WebAppWins(t *testing.T) {
	cfg := baseConfig()
	cfg.ConflictPolicy = sfsink.PolicyWebAppWins
	e := newEnv(t, cfg)
	ids := seed(t, e, "a")
	editAsOther(t, e.sim, ids["a"], map[string]any{"Phone": "sf-a"})
	if err := e.write(t, records(t, "webapp", update("customer", "a", map[string]any{"phone": "web-a"}, e.sim.Now().Add(-time.Minute)))); err != nil {
		t.Fatal(err)
	}
	if got := byExternalID(t, e.sim, "Account")["a"]["Phone"]; got != "web-a" {
		t.Errorf("phone %v; want web-a", got)
	}
	if cs := e.conflicts.all(); len(cs) != 0 {
		t.Errorf("webapp_wins recorded conflicts: %+v", cs)
	}
	if got := metric(t, e, "sfconnect_salesforce_sink_conflicts_total", "outcome=webapp_won"); got != 1 {
		t.Errorf("conflicts{webapp_won} = %v; want 1", got)
	}
}

func TestSink_Conflict_FieldMerge(t *testing.T) {
	cfg := baseConfig()
	cfg.ConflictPolicy = sfsink.PolicyFieldMerge
	e := newEnv(t, cfg)
	ids := seed(t, e, "a", "b", "c")
	for _, x := range []string{"a", "b", "c"} {
		editAsOther(t, e.sim, ids[x], map[string]any{"Phone": "sf-" + x})
	}
	before := e.sim.Now().Add(-time.Minute) // the web-app changes were made before the Salesforce edits
	prev := map[string]any{"phone": "100", "city": "Oslo", "name": "orig a"}
	withPrev := func(c ch) ch { c["previous"] = prev; return c }
	err := e.write(t, records(t, "webapp",
		// a: city did not change in Salesforce, phone did: city applied, phone lost.
		withPrev(update("customer", "a", map[string]any{"city": "Bergen", "phone": "web-a"}, before)),
		// b: only city, which Salesforce did not touch: merged.
		withPrev(update("customer", "b", map[string]any{"city": "Tromsø"}, before)),
		// c: no previous values: the fields Salesforce may have changed cannot be told apart, so the change loses.
		update("customer", "c", map[string]any{"city": "Bodø"}, before),
	))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	acc := byExternalID(t, e.sim, "Account")
	if acc["a"]["BillingCity"] != "Bergen" || acc["a"]["Phone"] != "sf-a" {
		t.Errorf("a: city %v phone %v; want Bergen sf-a", acc["a"]["BillingCity"], acc["a"]["Phone"])
	}
	if acc["b"]["BillingCity"] != "Tromsø" || acc["b"]["Phone"] != "sf-b" {
		t.Errorf("b: city %v phone %v; want Tromsø sf-b", acc["b"]["BillingCity"], acc["b"]["Phone"])
	}
	if acc["c"]["BillingCity"] != "Oslo" {
		t.Errorf("c: city %v; want Oslo (change lost)", acc["c"]["BillingCity"])
	}
	got := map[string]sfsink.Conflict{}
	for _, c := range e.conflicts.all() {
		got[c.WebApp.ExternalID] = c
	}
	if len(got) != 2 || got["a"].Outcome != sfsink.OutcomeFieldsLost || !slices.Equal(got["a"].LostFields, []string{"Phone"}) ||
		got["c"].Outcome != sfsink.OutcomeWebAppLost {
		t.Errorf("conflicts %+v; want a fields_lost [Phone] and c webapp_lost", got)
	}
	if n := metric(t, e, "sfconnect_salesforce_sink_conflicts_total", "outcome=merged"); n != 1 {
		t.Errorf("conflicts{merged} = %v; want 1", n)
	}
}

// TestSink_Conflict_StoreFailure checks that a losing change whose conflict
// record cannot be stored is reported as retryably failed, so it is not
// committed without its record; the winners are applied.
func TestSink_Conflict_StoreFailure(t *testing.T) {
	e := newEnv(t, baseConfig())
	ids := seed(t, e, "a", "b")
	editAsOther(t, e.sim, ids["a"], map[string]any{"Phone": "sf-a"})
	e.conflicts.failNext = true
	now := e.sim.Now()
	err := e.write(t, records(t, "webapp",
		update("customer", "a", map[string]any{"phone": "web-a"}, now.Add(-time.Minute)),
		update("customer", "b", map[string]any{"phone": "web-b"}, now)))
	if err == nil {
		t.Fatal("Write returned nil though the conflict record was not stored")
	}
	be := batchError(t, err)
	if len(be.Failed) != 1 || be.Failed[0] == nil {
		t.Fatalf("BatchError %v; want index 0 only", err)
	}
	if got := byExternalID(t, e.sim, "Account")["b"]["Phone"]; got != "web-b" {
		t.Errorf("b phone %v; want web-b", got)
	}
	// The retry stores it.
	if err := e.write(t, records(t, "webapp", update("customer", "a", map[string]any{"phone": "web-a"}, now.Add(-time.Minute)))); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if cs := e.conflicts.all(); len(cs) != 1 || cs[0].WebApp.ExternalID != "a" {
		t.Errorf("conflicts after retry: %v", fmt.Sprint(cs))
	}
}
