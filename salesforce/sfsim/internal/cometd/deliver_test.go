package cometd

import (
	"regexp"
	"slices"
	"testing"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

var isoUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestHandler_ChangeEvent_CometDShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.mustSubscribe(acctChan, -1)
	c.mustSubscribe(bus.AllChangeEvents, -1)

	id := e.createAccount(map[string]any{"Name": "Acme", "Description": "old", "BillingCity": "Paris", "NumberOfEmployees": 50})
	e.updateAccount(id, map[string]any{"BillingCity": "Lyon", "BillingState": "ARA", "Phone": "555", "Description": nil})
	evs := c.collect(4) // each event on both channels
	if evs[0]["channel"] != acctChan || evs[1]["channel"] != bus.AllChangeEvents || replayIDOf(t, evs[0]) != replayIDOf(t, evs[1]) {
		t.Fatalf("channels %v %v", evs[0]["channel"], evs[1]["channel"])
	}
	create, update := evs[0], evs[2]
	schema, _ := path(create, "data", "schema").(string)
	if len(schema) != 22 || path(update, "data", "schema") != schema {
		t.Fatalf("schema ids %q %q", schema, path(update, "data", "schema"))
	}
	d, _, _ := e.org.Describe("Account")
	s, err := cdc.ChangeEventSchema(d)
	if err != nil {
		t.Fatal(err)
	}
	if schema != s.ID() {
		t.Fatalf("schema %q, want the cdc schema id %q", schema, s.ID())
	}

	// CREATE: every non-null field, compounds nested, no system fields.
	p, _ := path(create, "data", "payload").(map[string]any)
	h, _ := p["ChangeEventHeader"].(map[string]any)
	if h["changeType"] != "CREATE" || h["entityName"] != "Account" || h["changeOrigin"] != "com/salesforce/api/rest/62.0;client=sfconnect" {
		t.Fatalf("create header %v", h)
	}
	if ids, _ := h["recordIds"].([]any); len(ids) != 1 || ids[0] != id {
		t.Fatalf("recordIds %v", h["recordIds"])
	}
	if cf, ok := h["changedFields"].([]any); !ok || len(cf) != 0 {
		t.Fatalf("create changedFields %v", h["changedFields"])
	}
	if num(h["commitTimestamp"]) <= 0 || num(h["sequenceNumber"]) != 1 || num(h["commitNumber"]) <= 0 || h["commitUser"] != testUserID {
		t.Fatalf("create header numbers %v", h)
	}
	if p["Name"] != "Acme" || p["Description"] != "old" || path(p, "BillingAddress", "City") != "Paris" || num(p["NumberOfEmployees"]) != 50 {
		t.Fatalf("create payload %v", p)
	}
	for _, f := range []string{"CreatedDate", "LastModifiedDate"} {
		if s, _ := p[f].(string); !isoUTC.MatchString(s) {
			t.Fatalf("%s %q is not ISO UTC", f, p[f])
		}
	}
	for _, f := range []string{"Id", "IsDeleted", "SystemModstamp", "BillingCity", "Phone"} {
		if _, ok := p[f]; ok {
			t.Errorf("create payload has %s", f)
		}
	}

	// UPDATE: changed fields only, by name; nulled fields named but absent.
	p, _ = path(update, "data", "payload").(map[string]any)
	h, _ = p["ChangeEventHeader"].(map[string]any)
	if h["changeType"] != "UPDATE" {
		t.Fatalf("update header %v", h)
	}
	for _, k := range []string{"nulledFields", "diffFields"} {
		if _, ok := h[k]; ok {
			t.Errorf("CometD header has %s: %v", k, h[k])
		}
	}
	var changed []string
	for _, f := range h["changedFields"].([]any) {
		changed = append(changed, f.(string))
	}
	slices.Sort(changed)
	want := []string{"BillingAddress.City", "BillingAddress.State", "Description", "LastModifiedDate", "Phone"}
	if !slices.Equal(changed, want) {
		t.Fatalf("changedFields %v, want %v", changed, want)
	}
	if p["Phone"] != "555" || path(p, "BillingAddress", "City") != "Lyon" || path(p, "BillingAddress", "State") != "ARA" {
		t.Fatalf("update payload %v", p)
	}
	if s, _ := p["LastModifiedDate"].(string); !isoUTC.MatchString(s) {
		t.Fatalf("LastModifiedDate %q", p["LastModifiedDate"])
	}
	for _, f := range []string{"Description", "Name", "CreatedDate", "NumberOfEmployees"} {
		if _, ok := p[f]; ok {
			t.Errorf("update payload has %s: %v", f, p[f])
		}
	}
	if len(p) != 4 { // header, Phone, BillingAddress, LastModifiedDate
		t.Errorf("update payload fields %v", p)
	}
}

func TestHandler_ChangeEvent_NameCompoundDeleteAndGap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.start()
	c.mustSubscribe("/data/ContactChangeEvent", -1)
	tx := e.org.Begin(org.Origin{})
	id, err := tx.Create("Contact", map[string]any{"LastName": "Doe", "FirstName": "Jane"})
	if err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	tx = e.org.Begin(org.Origin{})
	if err := tx.Delete("Contact", id); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	d, v, _ := e.org.Describe("Contact")
	e.bus.InjectGap(&org.Change{Object: "Contact", RecordIDs: []string{id}, Describe: d, DescribeVersion: v}, bus.GapUpdate)

	evs := c.collect(3)
	p, _ := path(evs[0], "data", "payload").(map[string]any)
	if path(p, "Name", "LastName") != "Doe" || path(p, "Name", "FirstName") != "Jane" {
		t.Fatalf("Name compound %v", p["Name"])
	}
	if _, ok := p["LastName"]; ok {
		t.Fatalf("component at top level: %v", p)
	}
	for i, wantType := range []string{"DELETE", "GAP_UPDATE"} {
		p, _ := path(evs[i+1], "data", "payload").(map[string]any)
		if path(p, "ChangeEventHeader", "changeType") != wantType || len(p) != 1 {
			t.Fatalf("%s payload %v", wantType, p)
		}
	}
}

func TestEncoder_ChangeEvent_FallbackWhenSchemaFails(t *testing.T) {
	t.Parallel()
	// A field type the cdc package does not map: the event is still
	// delivered, by the same rules.
	d := &salesforce.SObjectDescribe{Name: "Odd__c", KeyPrefix: "a00", Fields: []salesforce.Field{
		{Name: "Id", Type: "id"},
		{Name: "Blob__c", Type: "base64"},
		{Name: "When__c", Type: "datetime"},
		{Name: "Geo__Latitude__s", Type: "double", CompoundFieldName: "Geo__c"},
		{Name: "Geo__c", Type: "location"},
	}}
	ev := &bus.Event{Kind: bus.KindChange, ReplayID: 9, Channel: "/data/Odd__ChangeEvent", Describe: d,
		Header: bus.Header{EntityName: "Odd__c", RecordIDs: []string{"a00000000000001AAA"}, ChangeType: "UPDATE",
			ChangedFields: []string{"Blob__c", "Geo__Latitude__s", "When__c"}},
		Fields: map[string]any{"Id": "a00000000000001AAA", "Blob__c": "AAEC", "When__c": "2026-01-02T03:04:05.000+0000", "Geo__Latitude__s": 1.5, "Nothing__c": nil}}
	var enc encoder
	data := enc.message(ev, ev.Channel, testUserID)["data"].(map[string]any)
	p := data["payload"].(map[string]any)
	if p["Blob__c"] != "AAEC" || p["When__c"] != "2026-01-02T03:04:05.000Z" || path(p, "Geo__c", "Latitude") != 1.5 {
		t.Fatalf("payload %v", p)
	}
	if _, ok := p["Id"]; ok {
		t.Fatalf("payload has Id")
	}
	if _, ok := p["Nothing__c"]; ok {
		t.Fatalf("payload has a null field")
	}
	cf := path(p, "ChangeEventHeader", "changedFields").([]string)
	if !slices.Equal(cf, []string{"Blob__c", "Geo__c.Latitude", "When__c"}) {
		t.Fatalf("changedFields %v", cf)
	}
	if s, _ := data["schema"].(string); len(s) != 22 || path(data, "event", "replayId") != int64(9) {
		t.Fatalf("data %v", data)
	}
}

func TestEncoder_PlatformEvent_DescribeSchemaAndDefaults(t *testing.T) {
	t.Parallel()
	fields := []salesforce.Field{{Name: "Due__c", Type: "datetime"}, {Name: "Note__c", Type: "string"}}
	ev := &bus.Event{Kind: bus.KindPlatform, ReplayID: 3, Channel: "/event/Low_Ink__e",
		Describe: &salesforce.SObjectDescribe{Name: "Low_Ink__e", Fields: fields},
		Fields:   map[string]any{"Due__c": "2026-01-02T03:04:05.000+0000", "Note__c": "2026-01-02T03:04:05.000+0000"}}
	var enc encoder
	data := enc.message(ev, ev.Channel, testUserID)["data"].(map[string]any)
	s, err := cdc.PlatformEventSchema("Low_Ink__e", fields)
	if err != nil {
		t.Fatal(err)
	}
	p := data["payload"].(map[string]any)
	if data["schema"] != s.ID() || p["Due__c"] != "2026-01-02T03:04:05.000Z" || p["Note__c"] != "2026-01-02T03:04:05.000+0000" {
		t.Fatalf("data %v (schema want %s)", data, s.ID())
	}
	// CreatedDate and CreatedById default to the publish time and the user.
	if p["CreatedById"] != testUserID || !isoUTC.MatchString(p["CreatedDate"].(string)) {
		t.Fatalf("defaults %v", p)
	}
	if _, ok := path(data, "event").(map[string]any)["EventUuid"]; ok {
		t.Fatalf("EventUuid without one published")
	}
}
