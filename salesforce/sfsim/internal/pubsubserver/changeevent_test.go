package pubsubserver

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// bitmapElement is the documented shape of a bitmap element: "0x" or
// "P-0x", then uppercase hex in whole bytes.
var bitmapElement = regexp.MustCompile(`^([0-9]+-)?0x([0-9A-F]{2})+$`)

func checkBitmaps(t *testing.T, name string, bitmaps []string) {
	t.Helper()
	for _, el := range bitmaps {
		if !bitmapElement.MatchString(el) {
			t.Errorf("%s element %q is not 0x + uppercase hex in whole bytes", name, el)
		}
	}
}

func TestChangeEvent_BitmapsDecodeToChangedFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	id := h.createAccounts("Acme")[0]
	h.update("Account", id, map[string]any{"Phone": "555-0100", "Fax": "555-0199"})
	h.update("Account", id, map[string]any{"BillingCity": "Paris", "BillingState": "IDF", "Phone": "555-0101", "Fax": nil})

	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 10})
	got := sub.events(3)

	schema, create := h.decodeChange(got[0])
	if create.Header.ChangeType != cdc.ChangeTypeCreate || create.Fields["Name"] != "Acme" || len(create.Header.ChangedFields) != 0 {
		t.Fatalf("create event %+v", create)
	}
	if _, ok := create.Fields["CreatedDate"].(int64); !ok {
		t.Fatalf("CreatedDate is %T, want epoch milliseconds", create.Fields["CreatedDate"])
	}
	if create.Header.ChangeOrigin != "com/salesforce/api/rest/62.0;client=test" || create.Header.CommitUser != testUserID {
		t.Fatalf("header %+v", create.Header)
	}

	_, upd := h.decodeChange(got[2])
	checkBitmaps(t, "changedFields", upd.Header.ChangedFields)
	checkBitmaps(t, "nulledFields", upd.Header.NulledFields)
	changed, err := schema.DecodeFields(upd.Header.ChangedFields)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"BillingAddress.City", "BillingAddress.State", "Phone", "Fax", "LastModifiedDate"}
	if !slices.Equal(changed, want) {
		t.Fatalf("changedFields %v decode to %v, want %v", upd.Header.ChangedFields, changed, want)
	}
	// The nested element is "4-0x06": City and State of BillingAddress
	// (field 4), as in the protocol reference's worked example.
	if !slices.Contains(upd.Header.ChangedFields, "4-0x06") {
		t.Errorf("changedFields %v lack the nested element 4-0x06", upd.Header.ChangedFields)
	}
	nulled, err := schema.DecodeFields(upd.Header.NulledFields)
	if err != nil || !slices.Equal(nulled, []string{"Fax"}) {
		t.Fatalf("nulledFields %v decode to %v (%v), want [Fax]", upd.Header.NulledFields, nulled, err)
	}
	addr, _ := upd.Fields["BillingAddress"].(map[string]any)
	if addr["City"] != "Paris" || addr["State"] != "IDF" || upd.Fields["Phone"] != "555-0101" {
		t.Fatalf("update body %v", upd.Fields)
	}
	if _, ok := upd.Fields["Fax"]; ok {
		t.Fatalf("nulled Fax has a value: %v", upd.Fields["Fax"])
	}
}

func TestChangeEvent_SameChangeToThreeRecordsIsOneEvent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	ids := h.createAccounts("a", "b", "c")
	tx := h.org.Begin(orgOriginREST)
	for _, id := range ids {
		if err := tx.Update("Account", id, map[string]any{"Industry": "Banking"}); err != nil {
			t.Fatal(err)
		}
	}
	tx.Commit()

	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 100})
	got := sub.events(4)
	sub.quiet(100 * time.Millisecond)
	schema, ev := h.decodeChange(got[3])
	if ev.Header.ChangeType != cdc.ChangeTypeUpdate || !slices.Equal(ev.Header.RecordIDs, ids) {
		t.Fatalf("merged update %+v, want recordIds %v", ev.Header, ids)
	}
	changed, _ := schema.DecodeFields(ev.Header.ChangedFields)
	if !slices.Equal(changed, []string{"Industry", "LastModifiedDate"}) || ev.Fields["Industry"] != "Banking" {
		t.Fatalf("changed %v, body %v", changed, ev.Fields)
	}
}

func TestChangeEvent_AddFieldMidStream_NewSchemaID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{KeepAlive: 20 * time.Millisecond})
	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, NumRequested: 10})
	sub.waitKeepAlive()
	id := h.createAccounts("before")[0]
	first := sub.events(1)[0]

	tier := salesforce.Field{Name: "Tier__c", Label: "Tier", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true}
	if err := h.org.AddField("Account", tier); err != nil {
		t.Fatal(err)
	}
	h.update("Account", id, map[string]any{"Tier__c": "Gold"})
	second := sub.events(1)[0]

	oldID, newID := first.GetEvent().GetSchemaId(), second.GetEvent().GetSchemaId()
	if oldID == newID {
		t.Fatalf("schema id %s did not change after a field was added", oldID)
	}
	oldSchema, before := h.decodeChange(first)
	newSchema, after := h.decodeChange(second)
	if strings.Contains(oldSchema.JSON(), "Tier__c") || !strings.Contains(newSchema.JSON(), "Tier__c") {
		t.Fatal("Tier__c is in the wrong schema")
	}
	if before.Fields["Name"] != "before" || after.Fields["Tier__c"] != "Gold" {
		t.Fatalf("before %v, after %v", before.Fields, after.Fields)
	}
	changed, _ := newSchema.DecodeFields(after.Header.ChangedFields)
	if !slices.Equal(changed, []string{"LastModifiedDate", "Tier__c"}) {
		t.Fatalf("changed %v", changed)
	}
	info, err := h.client.GetTopic(h.ctx(), &pubsubpb.TopicRequest{TopicName: accountTopic})
	if err != nil || info.GetSchemaId() != newID {
		t.Fatalf("GetTopic schema id %s (%v), want the new %s", info.GetSchemaId(), err, newID)
	}
	// A replay from the start still gets the old event with its old schema.
	replay := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 10})
	if got := replay.events(2); got[0].GetEvent().GetSchemaId() != oldID || got[1].GetEvent().GetSchemaId() != newID {
		t.Fatal("replayed events changed schema ids")
	}
}

func TestChangeEvent_GapAndDeleteEventsHaveNoBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	id := h.createAccounts("gone")[0]
	tx := h.org.Begin(orgOriginREST)
	if err := tx.Delete("Account", id); err != nil {
		t.Fatal(err)
	}
	c := tx.Commit()
	h.bus.InjectGap(&c.Changes[0], "GAP_UPDATE")

	sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 10})
	got := sub.events(3)
	for i, wantType := range []cdc.ChangeType{cdc.ChangeTypeDelete, cdc.ChangeTypeGapUpdate} {
		_, ev := h.decodeChange(got[i+1])
		if ev.Header.ChangeType != wantType || len(ev.Fields) != 0 || ev.Header.RecordIDs[0] != id {
			t.Fatalf("event %d: %+v", i+1, ev)
		}
	}
}

func TestChangeEvent_EventIDsAreStable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.createAccounts("a", "b")
	read := func() []string {
		sub := h.subscribe(t, &pubsubpb.FetchRequest{TopicName: accountTopic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 2})
		var ids []string
		for _, ce := range sub.events(2) {
			ids = append(ids, ce.GetEvent().GetId())
		}
		return ids
	}
	first, again := read(), read()
	if !slices.Equal(first, again) || first[0] == first[1] {
		t.Fatalf("event ids %v then %v", first, again)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(first[0]) {
		t.Fatalf("event id %q is not a UUID", first[0])
	}
}

func TestEventValue_Dates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  string
		in   any
		want any
	}{
		{"datetime", "2026-01-02T03:04:05.006+0000", int64(1767323045006)},
		{"datetime", "2026-01-02T03:04:05.006Z", int64(1767323045006)},
		{"date", "2026-01-02", int64(1767312000000)},
		{"time", "01:00:00.500Z", int64(3600500)},
		{"datetime", int64(5), int64(5)},
		{"string", "x", "x"},
		{"double", 1.5, 1.5},
	}
	for _, tc := range cases {
		got, err := eventValue(tc.typ, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("eventValue(%s, %v) = %v, %v; want %v", tc.typ, tc.in, got, err, tc.want)
		}
	}
	if _, err := eventValue("datetime", "yesterday"); err == nil {
		t.Error("bad datetime accepted")
	}
}
