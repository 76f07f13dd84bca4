package org

import (
	"strings"
	"testing"
	"time"
)

func newTestOrg(t *testing.T) (*Org, *[]*Commit) {
	t.Helper()
	o, err := New(Config{OrgID: "00D8a0000000001AAA", UserID: "0058a0000000001AAA", Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	var commits []*Commit
	o.OnCommit(func(c *Commit) { commits = append(commits, c) })
	return o, &commits
}

func TestNormalizeID_FifteenAndEighteen(t *testing.T) {
	t.Parallel()
	id := makeID("001", 12345)
	if len(id) != 18 {
		t.Fatalf("id %q", id)
	}
	if got, err := NormalizeID(id[:15]); err != nil || got != id {
		t.Fatalf("NormalizeID(15) = %q, %v; want %q", got, err, id)
	}
	if got, err := NormalizeID(strings.ToLower(id[:15]) + id[15:]); err == nil && got == id {
		t.Fatal("a 15-character id is case-sensitive")
	}
	for _, bad := range []string{"", "001", "001!abcdefghijk", id + "x"} {
		if _, err := NormalizeID(bad); err == nil {
			t.Errorf("NormalizeID(%q) accepted", bad)
		}
	}
	// The suffix encodes, per 5-character chunk, which characters are
	// uppercase: chunk "001D0" has bit 3 (I), "00000" none (A), "IRFma"
	// bits 0-2 (H).
	if got := idSuffix("001D000000IRFma"); got != "IAH" {
		t.Fatalf("suffix = %q, want IAH", got)
	}
}

func TestTx_Commit_CreateUpdateDeleteUndelete(t *testing.T) {
	t.Parallel()
	o, commits := newTestOrg(t)
	tx := o.Begin(Origin{API: "rest", Version: "62.0", Client: "webapp"})
	id, err := tx.Create("account", map[string]any{"Name": "Acme", "BillingCity": "Paris", "NumberOfEmployees": 10.0})
	if err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	c := (*commits)[0]
	if c.Origin != "com/salesforce/api/rest/62.0;client=webapp" || len(c.Changes) != 1 || c.Changes[0].Type != ChangeCreate {
		t.Fatalf("commit %+v", c)
	}
	if c.Changes[0].Fields["Name"] != "Acme" || c.Changes[0].Fields["Id"] != nil {
		t.Fatalf("create fields %v", c.Changes[0].Fields)
	}

	tx = o.Begin(Origin{})
	if err := tx.Update("Account", id, map[string]any{"BillingCity": "Lyon", "NumberOfEmployees": nil, "Phone": "1"}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	u := (*commits)[1].Changes[0]
	if strings.Join(u.Changed, ",") != "BillingCity,LastModifiedDate,NumberOfEmployees,Phone" || strings.Join(u.Nulled, ",") != "NumberOfEmployees" {
		t.Fatalf("update changed=%v nulled=%v", u.Changed, u.Nulled)
	}
	if (*commits)[1].Origin != "" {
		t.Fatalf("origin of a UI change = %q", (*commits)[1].Origin)
	}
	rec, _ := o.Get("Account", id[:15])
	if rec["BillingCity"] != "Lyon" || rec["NumberOfEmployees"] != nil {
		t.Fatalf("record %v", rec)
	}

	tx = o.Begin(Origin{})
	if err := tx.Delete("Account", id); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	if _, err := o.Get("Account", id); err == nil || err.Code != CodeEntityIsDeleted {
		t.Fatalf("get deleted: %v", err)
	}
	tx = o.Begin(Origin{})
	if err := tx.Undelete("Account", id); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	if (*commits)[3].Changes[0].Type != ChangeUndelete || (*commits)[3].Changes[0].Fields["Name"] != "Acme" {
		t.Fatalf("undelete %+v", (*commits)[3].Changes[0])
	}
}

func TestTx_Commit_SameChangeToThreeRecordsIsOneChange(t *testing.T) {
	t.Parallel()
	o, commits := newTestOrg(t)
	tx := o.Begin(Origin{})
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		id, err := tx.Create("Account", map[string]any{"Name": n})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	tx.Commit()
	tx = o.Begin(Origin{})
	for _, id := range ids {
		if err := tx.Update("Account", id, map[string]any{"Rating": "Hot"}); err != nil {
			t.Fatal(err)
		}
	}
	tx.Commit()
	ch := (*commits)[1].Changes
	if len(ch) != 1 || len(ch[0].RecordIDs) != 3 {
		t.Fatalf("want one change with 3 record ids, got %+v", ch)
	}
	if len((*commits)[0].Changes) != 3 {
		t.Fatalf("creates must not merge: %+v", (*commits)[0].Changes)
	}
}

func TestTx_Create_RecordErrors(t *testing.T) {
	t.Parallel()
	o, _ := newTestOrg(t)
	o.AddValidationRule(ValidationRule{Object: "Account", Field: "Name", Message: "Name must not start with INVALID",
		Reject: func(r Record) bool { s, _ := r["Name"].(string); return strings.HasPrefix(s, "INVALID") }})
	tests := []struct {
		name     string
		object   string
		fields   map[string]any
		wantCode string
	}{
		{"missing required", "Account", map[string]any{"Phone": "1"}, CodeRequiredFieldMissing},
		{"unknown field", "Account", map[string]any{"Name": "x", "Nope__c": 1.0}, CodeInvalidField},
		{"read-only field", "Account", map[string]any{"Name": "x", "CreatedDate": "2024-01-01T00:00:00Z"}, CodeInvalidFieldForInsert},
		{"wrong type", "Account", map[string]any{"Name": "x", "NumberOfEmployees": "many"}, CodeInvalidTypeOnField},
		{"fractional int", "Account", map[string]any{"Name": "x", "NumberOfEmployees": 1.5}, CodeInvalidTypeOnField},
		{"too long", "Account", map[string]any{"Name": strings.Repeat("x", 256)}, CodeStringTooLong},
		{"bad reference", "Contact", map[string]any{"LastName": "x", "AccountId": "001000000000000"}, CodeInvalidCrossReference},
		{"malformed reference", "Contact", map[string]any{"LastName": "x", "AccountId": "nope"}, CodeMalformedID},
		{"validation rule", "Account", map[string]any{"Name": "INVALID name"}, CodeCustomValidation},
		{"unknown object", "Nope__c", map[string]any{}, CodeInvalidType},
	}
	for _, tt := range tests {
		tx := o.Begin(Origin{})
		_, err := tx.Create(tt.object, tt.fields)
		tx.Rollback()
		if err == nil || err.Code != tt.wantCode {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.wantCode)
		}
	}
}

func TestTx_Upsert_CreatesUpdatesAndRejectsDuplicates(t *testing.T) {
	t.Parallel()
	o, commits := newTestOrg(t)
	tx := o.Begin(Origin{})
	id, created, err := tx.Upsert("Account", "External_Id__c", "ext-1", map[string]any{"Name": "One"})
	if err != nil || !created {
		t.Fatalf("upsert create: %v %v", created, err)
	}
	id2, created, err := tx.Upsert("Account", "external_id__c", "EXT-1", map[string]any{"Name": "Uno"})
	if err != nil || created || id2 != id {
		t.Fatalf("upsert update: %v %v %v", id2, created, err)
	}
	if _, err := tx.Create("Account", map[string]any{"Name": "dup", "External_Id__c": "ext-1"}); err == nil || err.Code != CodeDuplicateValue {
		t.Fatalf("duplicate external id accepted: %v", err)
	}
	if _, _, err := tx.Upsert("Account", "Phone", "1", map[string]any{"Name": "x"}); err == nil || err.Code != CodeNotFound {
		t.Fatalf("upsert by a non-external-id field: %v", err)
	}
	tx.Commit()
	if len(*commits) != 1 || len((*commits)[0].Changes) != 2 {
		t.Fatalf("commits %+v", *commits)
	}
}

func TestTx_RollbackTo_KeepsEarlierWork(t *testing.T) {
	t.Parallel()
	o, commits := newTestOrg(t)
	tx := o.Begin(Origin{})
	keep, _ := tx.Create("Account", map[string]any{"Name": "keep"})
	sp := tx.Savepoint()
	drop, _ := tx.Create("Account", map[string]any{"Name": "drop"})
	tx.RollbackTo(sp)
	tx.Commit()
	if _, err := o.Get("Account", drop); err == nil {
		t.Fatal("rolled-back record exists")
	}
	if _, err := o.Get("Account", keep); err != nil {
		t.Fatal(err)
	}
	if len((*commits)[0].Changes) != 1 {
		t.Fatalf("changes %+v", (*commits)[0].Changes)
	}
}

func TestOrg_SpendAPI_Budget(t *testing.T) {
	t.Parallel()
	o, _ := newTestOrg(t)
	o.SetAPIBudget(0, 2)
	for i := range 2 {
		if _, _, ok := o.SpendAPI(); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	if used, limit, ok := o.SpendAPI(); ok || used != 2 || limit != 2 {
		t.Fatalf("third request: %d/%d %v", used, limit, ok)
	}
}
