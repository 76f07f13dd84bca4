package cdc

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/sfconnect/sfconnect/salesforce"
)

func TestChangeEventSchema_Account_Layout(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	if got, want := names(s), []string{HeaderField, "Name", "Type", "ParentId", "BillingAddress", "Phone"}; !slices.Equal(got, want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
	if s.Name() != "AccountChangeEvent" || s.Kind() != KindChangeEvent {
		t.Fatalf("Name, Kind = %q, %v", s.Name(), s.Kind())
	}
	ba := s.Fields()[4]
	if !ba.Compound || ba.Type != "address" {
		t.Fatalf("BillingAddress = %+v", ba)
	}
	var comps, sobj []string
	for _, c := range ba.Components {
		comps = append(comps, c.Name)
		sobj = append(sobj, c.SObjectField)
	}
	if want := []string{"Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy"}; !slices.Equal(comps, want) {
		t.Fatalf("components = %v, want %v", comps, want)
	}
	if sobj[1] != "BillingCity" || ba.Components[5].Type != "double" {
		t.Fatalf("component details = %+v", ba.Components)
	}
}

// TestChangeEventSchema_JSONShape checks the Avro JSON against §2.1/§2.2.
func TestChangeEventSchema_JSONShape(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	var doc struct {
		Type, Name, Namespace string
		Fields                []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(s.JSON()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Type != "record" || doc.Name != "AccountChangeEvent" || doc.Namespace != Namespace {
		t.Fatalf("record = %s %s %s", doc.Type, doc.Name, doc.Namespace)
	}
	var header struct {
		Type, Name string
		Fields     []struct {
			Name string
			Type any
		}
	}
	if err := json.Unmarshal(doc.Fields[0]["type"], &header); err != nil {
		t.Fatal(err)
	}
	if header.Type != "record" || header.Name != "ChangeEventHeader" {
		t.Fatalf("header = %s %s", header.Type, header.Name)
	}
	strs := map[string]any{"type": "array", "items": "string"}
	enum := map[string]any{"type": "enum", "name": "ChangeType", "symbols": []any{
		"CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT",
	}}
	want := []struct {
		name string
		typ  any
	}{
		{"entityName", "string"}, {"recordIds", strs}, {"changeType", enum}, {"changeOrigin", "string"},
		{"transactionKey", "string"}, {"sequenceNumber", "int"}, {"commitTimestamp", "long"},
		{"commitNumber", "long"}, {"commitUser", "string"}, {"nulledFields", strs}, {"diffFields", strs},
		{"changedFields", strs},
	}
	if len(header.Fields) != len(want) {
		t.Fatalf("header has %d fields, want %d", len(header.Fields), len(want))
	}
	for i, w := range want {
		if header.Fields[i].Name != w.name || !reflect.DeepEqual(header.Fields[i].Type, w.typ) {
			t.Errorf("header field %d = %s %v, want %s %v", i, header.Fields[i].Name, header.Fields[i].Type, w.name, w.typ)
		}
	}
	for _, f := range doc.Fields[1:] {
		if def, ok := f["default"]; !ok || string(def) != "null" {
			t.Errorf("field %s has no null default", f["name"])
		}
		var union []json.RawMessage
		if err := json.Unmarshal(f["type"], &union); err != nil || len(union) != 2 || string(union[0]) != `"null"` {
			t.Errorf("field %s type %s is not [\"null\", T]", f["name"], f["type"])
		}
	}
	if string(doc.Fields[1]["type"]) != `["null","string"]` {
		t.Errorf("Name type = %s", doc.Fields[1]["type"])
	}
}

func TestChangeEventSchema_DocumentedOrder(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, docAccount())
	want := map[int]string{
		0: HeaderField, 1: "Name", 2: "Type", 3: "ParentId", 4: "BillingAddress", 5: "ShippingAddress",
		6: "Phone", 7: "Fax", 8: "AccountNumber", 9: "Website", 10: "Sic", 11: "Industry",
		12: "AnnualRevenue", 13: "NumberOfEmployees", 14: "Ownership", 15: "TickerSymbol",
		16: "Description", 17: "Rating", 18: "Site", 19: "OwnerId", 20: "CreatedDate",
		21: "CreatedById", 22: "LastModifiedDate",
	}
	got := names(s)
	for i, n := range want {
		if got[i] != n {
			t.Errorf("field %d = %s, want %s", i, got[i], n)
		}
	}
}

func TestChangeEventSchema_Types(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	want := map[string]string{
		"AccountId": "string", "Phone": "string", "Email": "string", "Birthdate": "long", "Best_Time__c": "long",
		"DoNotCall": "boolean", "Visits__c": "int", "Big__c": "long", "Share__c": "double", "Tags__c": "string",
		"LastModifiedDate": "long",
	}
	for _, f := range s.Avro().(*avro.RecordSchema).Fields() {
		w, ok := want[f.Name()]
		if !ok {
			continue
		}
		delete(want, f.Name())
		u, ok := f.Type().(*avro.UnionSchema)
		if !ok || len(u.Types()) != 2 || u.Types()[0].Type() != avro.Null || string(u.Types()[1].Type()) != w {
			t.Errorf("%s: type %s, want [\"null\",%q]", f.Name(), f.Type(), w)
		}
	}
	if len(want) > 0 {
		t.Errorf("fields missing: %v", want)
	}
}

func TestChangeEventSchema_Compounds(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	if got, want := names(s), []string{
		HeaderField, "AccountId", "Name", "MailingAddress", "OtherAddress", "Phone", "Email", "Birthdate",
		"Best_Time__c", "DoNotCall", "Visits__c", "Big__c", "Share__c", "Tags__c", "Geo__c", "LastModifiedDate",
	}; !slices.Equal(got, want) {
		t.Fatalf("fields = %v\nwant     %v", got, want)
	}
	comps := func(i int) []string {
		var out []string
		for _, c := range s.Fields()[i].Components {
			out = append(out, c.Name)
		}
		return out
	}
	if got := comps(2); !slices.Equal(got, []string{"LastName", "FirstName", "Salutation"}) {
		t.Errorf("Name components = %v", got)
	}
	if got := comps(14); !slices.Equal(got, []string{"Latitude", "Longitude"}) {
		t.Errorf("Geo__c components = %v", got)
	}
	if !slices.Equal(comps(3), comps(4)) || len(comps(3)) != 8 {
		t.Errorf("address components = %v / %v", comps(3), comps(4))
	}
	// The second address refers to the first's record instead of redefining it.
	rec := s.Avro().(*avro.RecordSchema)
	other := rec.Fields()[4].Type().(*avro.UnionSchema).Types()[1]
	if other.Type() != avro.Ref {
		t.Errorf("OtherAddress type = %s, want a reference to Address", other.Type())
	}
}

// TestChangeEventSchema_CompoundFirst puts the compound field before its
// components: it still takes the first position, with the same layout.
func TestChangeEventSchema_CompoundFirst(t *testing.T) {
	t.Parallel()
	d := smallAccount()
	var reordered []salesforce.Field
	for _, f := range d.Fields {
		if f.Name == "BillingAddress" {
			continue
		}
		if f.Name == "BillingStreet" {
			reordered = append(reordered, sf("BillingAddress", "address"))
		}
		reordered = append(reordered, f)
	}
	d.Fields = reordered
	s := mustSchema(t, d)
	if want := mustSchema(t, smallAccount()); s.ID() != want.ID() || !slices.Equal(names(s), names(want)) {
		t.Fatalf("layout %v (id %s), want %v (id %s)", names(s), s.ID(), names(want), want.ID())
	}
}

func TestChangeEventSchema_CustomObject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ object, want string }{
		{"Employee__c", "Employee__ChangeEvent"},
		{"ns__Thing__c", "ns__Thing__ChangeEvent"},
		{"Opportunity", "OpportunityChangeEvent"},
	} {
		s := mustSchema(t, &salesforce.SObjectDescribe{Name: tc.object, Fields: []salesforce.Field{sf("Id", "id"), sf("Note__c", "string")}})
		if s.Name() != tc.want {
			t.Errorf("%s: Name = %s, want %s", tc.object, s.Name(), tc.want)
		}
	}
}

func TestSchema_ID(t *testing.T) {
	t.Parallel()
	a := mustSchema(t, smallAccount())
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(a.ID()) {
		t.Fatalf("ID %q is not 22 base64url characters", a.ID())
	}
	if b := mustSchema(t, smallAccount()); b.ID() != a.ID() || b.JSON() != a.JSON() {
		t.Fatalf("rebuilding gives %s, want %s", b.ID(), a.ID())
	}

	added := smallAccount()
	added.Fields = append(added.Fields, sf("Rating", "picklist"))
	if b := mustSchema(t, added); b.ID() == a.ID() {
		t.Error("adding a field kept the schema id")
	}

	// Labels, picklist values and excluded fields are not part of the wire
	// shape; nor is a change between Salesforce types with the same Avro type.
	cosmetic := smallAccount()
	for i := range cosmetic.Fields {
		cosmetic.Fields[i].Label = "label " + cosmetic.Fields[i].Name
		if cosmetic.Fields[i].Name == "Type" {
			cosmetic.Fields[i].Type = "string"
		}
	}
	cosmetic.Fields = append(cosmetic.Fields, salesforce.Field{Name: "Formula2__c", Type: "string", Calculated: true})
	if b := mustSchema(t, cosmetic); b.ID() != a.ID() {
		t.Error("cosmetic describe changes changed the schema id")
	}

	retyped := smallAccount()
	for i := range retyped.Fields {
		if retyped.Fields[i].Name == "Phone" {
			retyped.Fields[i].Type = "int"
		}
	}
	if b := mustSchema(t, retyped); b.ID() == a.ID() {
		t.Error("changing an Avro type kept the schema id")
	}
	if c := mustSchema(t, contact()); c.ID() == a.ID() {
		t.Error("different objects share a schema id")
	}
}

func TestChangeEventSchema_Errors(t *testing.T) {
	t.Parallel()
	dup := smallAccount()
	dup.Fields = append(dup.Fields, sf("phone", "phone"))
	noComponents := &salesforce.SObjectDescribe{Name: "Account", Fields: []salesforce.Field{sf("BillingAddress", "address")}}
	for _, tc := range []struct {
		name string
		d    *salesforce.SObjectDescribe
		want error
	}{
		{"nil", nil, ErrInvalidSchema},
		{"empty name", &salesforce.SObjectDescribe{}, ErrInvalidSchema},
		{"bad name", &salesforce.SObjectDescribe{Name: "Acc-ount"}, ErrInvalidSchema},
		{"unsupported type", &salesforce.SObjectDescribe{Name: "A", Fields: []salesforce.Field{sf("Body", "base64")}}, ErrUnsupportedType},
		{"unsupported component type", &salesforce.SObjectDescribe{Name: "A", Fields: []salesforce.Field{component("XCity", "blob", "XAddress"), sf("XAddress", "address")}}, ErrUnsupportedType},
		{"duplicate", dup, ErrInvalidSchema},
		{"bad field name", &salesforce.SObjectDescribe{Name: "A", Fields: []salesforce.Field{sf("1st", "string")}}, ErrInvalidSchema},
		{"header collision", &salesforce.SObjectDescribe{Name: "A", Fields: []salesforce.Field{sf("ChangeEventHeader", "string")}}, ErrInvalidSchema},
		{"address without components", noComponents, ErrInvalidSchema},
		{"nested compound", &salesforce.SObjectDescribe{Name: "A", Fields: []salesforce.Field{component("X", "string", "Y"), component("Z", "string", "X")}}, ErrInvalidSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ChangeEventSchema(tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPlatformEventSchema(t *testing.T) {
	t.Parallel()
	s := lowInk(t)
	if s.Name() != "Low_Ink__e" || s.Kind() != KindPlatformEvent {
		t.Fatalf("Name, Kind = %s, %v", s.Name(), s.Kind())
	}
	if got, want := names(s), []string{"CreatedDate", "CreatedById", "Printer_Model__c", "Serial_Number__c", "Ink_Percentage__c", "Count__c", "Urgent__c"}; !slices.Equal(got, want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
	rec := s.Avro().(*avro.RecordSchema)
	if rec.Namespace() != Namespace || rec.Fields()[0].Type().Type() != avro.Long || rec.Fields()[1].Type().Type() != avro.String {
		t.Fatalf("schema = %s", s.JSON())
	}
	if rec.Fields()[2].Type().Type() != avro.Union || !rec.Fields()[2].HasDefault() {
		t.Fatalf("custom field not nullable: %s", s.JSON())
	}
	bare, err := PlatformEventSchema("Low_Ink__e", []salesforce.Field{sf("Printer_Model__c", "string"), sf("Serial_Number__c", "string"), sf("Ink_Percentage__c", "percent"), sf("Count__c", "int"), sf("Urgent__c", "boolean")})
	if err != nil || bare.ID() != s.ID() {
		t.Fatalf("without system fields: %v, id %s want %s", err, bare.ID(), s.ID())
	}
	for _, tc := range []struct {
		name   string
		event  string
		fields []salesforce.Field
		want   error
	}{
		{"bad name", "/event/", nil, ErrInvalidSchema},
		{"compound", "X__e", []salesforce.Field{sf("Where__c", "location")}, ErrUnsupportedType},
		{"duplicate", "X__e", []salesforce.Field{sf("A__c", "string"), sf("a__c", "string")}, ErrInvalidSchema},
		{"bad field", "X__e", []salesforce.Field{sf("A-c", "string")}, ErrInvalidSchema},
	} {
		if _, err := PlatformEventSchema(tc.event, tc.fields); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestParseSchema(t *testing.T) {
	t.Parallel()
	for _, s := range []*Schema{mustSchema(t, smallAccount()), mustSchema(t, contact()), lowInk(t)} {
		p, err := ParseSchema(s.JSON())
		if err != nil {
			t.Fatalf("ParseSchema(%s): %v", s.Name(), err)
		}
		if p.ID() != s.ID() || p.Kind() != s.Kind() || p.Name() != s.Name() || p.JSON() != s.JSON() {
			t.Errorf("%s: parsed id/kind/name differ", s.Name())
		}
		// Parsed layouts know no describe names; otherwise they match.
		want := s.Fields()
		for i := range want {
			for j := range want[i].Components {
				want[i].Components[j].SObjectField = ""
			}
		}
		if got := p.Fields(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: parsed layout\n%+v\nwant\n%+v", s.Name(), got, want)
		}
	}

	// The shape of a real platform event schema (captured from an org),
	// with Salesforce's doc strings and the extra uuid attribute.
	const real = `{"name":"Order_Event__e","namespace":"com.sforce.eventbus","type":"record",
	  "fields":[{"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},
	            {"name":"CreatedById","type":"string","doc":"CreatedBy:EntityId"},
	            {"name":"Amount__c","type":["null","double"],"doc":"Data:Double:00NgL00000vXNVG","default":null}],
	  "uuid":"_CADE3qaegX3ECEW0rlbYA"}`
	p, err := ParseSchema(real)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind() != KindPlatformEvent || p.Fields()[0].Type != "datetime" || p.Fields()[1].Type != "reference" || p.Fields()[2].Type != "double" {
		t.Fatalf("parsed %v %+v", p.Kind(), p.Fields())
	}

	for _, bad := range []string{"", "{", `"string"`, `{"type":"record","name":"X","fields":[{"name":"a"}]}`} {
		if _, err := ParseSchema(bad); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("ParseSchema(%q) err = %v", bad, err)
		}
	}
}

func TestSchema_Path(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	for in, want := range map[string]string{
		"Phone": "Phone", "phone": "Phone", "MailingCity": "MailingAddress.City", "MailingAddress": "MailingAddress",
		"FirstName": "Name.FirstName", "Name": "Name", "Geo__Latitude__s": "Geo__c.Latitude",
	} {
		if got, ok := s.Path(in); !ok || got != want {
			t.Errorf("Path(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"Id", "IsDeleted", "SystemModstamp", HeaderField, "Nope"} {
		if got, ok := s.Path(in); ok {
			t.Errorf("Path(%s) = %q, want none", in, got)
		}
	}
}

func TestSchema_NilReceiver(t *testing.T) {
	t.Parallel()
	var s *Schema
	if s.Kind() != 0 || s.Name() != "" || s.JSON() != "" || s.ID() != "" || s.Avro() != nil || s.Fields() != nil {
		t.Fatal("nil schema accessors")
	}
	if _, ok := s.Path("x"); ok {
		t.Fatal("nil schema Path")
	}
	if _, err := s.EncodeFields(nil); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
	if _, err := s.DecodeFields(nil); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
	if _, err := s.Encode(&ChangeEvent{}); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
	if _, err := s.Decode(nil); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
	if _, err := s.EncodePlatform(&PlatformEvent{}); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
	if _, err := s.DecodePlatform(nil); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
	if _, err := CometDPayload(&ChangeEvent{}, s); !errors.Is(err, ErrWrongKind) {
		t.Fatal(err)
	}
}
