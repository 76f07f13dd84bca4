package cdc

import (
	"bytes"
	"testing"

	"github.com/sfconnect/sfconnect/salesforce"
)

// sf builds a describe field.
func sf(name, typ string) salesforce.Field {
	return salesforce.Field{Name: name, Type: typ, Nillable: true}
}

// component builds a compound component field.
func component(name, typ, compound string) salesforce.Field {
	f := sf(name, typ)
	f.CompoundFieldName = compound
	return f
}

// addressFields returns the components of a standard address compound with
// the given prefix, in describe order, followed by the compound itself.
func addressFields(prefix string) []salesforce.Field {
	c := prefix + "Address"
	return []salesforce.Field{
		component(prefix+"Street", "textarea", c),
		component(prefix+"City", "string", c),
		component(prefix+"State", "string", c),
		component(prefix+"PostalCode", "string", c),
		component(prefix+"Country", "string", c),
		component(prefix+"Latitude", "double", c),
		component(prefix+"Longitude", "double", c),
		component(prefix+"GeocodeAccuracy", "picklist", c),
		sf(c, "address"),
	}
}

// smallAccount is the Account layout of the documented bitmap vectors
// ['0x2A'] and ['0x22','4-0x06']: ChangeEventHeader(0), Name(1), Type(2),
// ParentId(3), BillingAddress(4), Phone(5).
func smallAccount() *salesforce.SObjectDescribe {
	fields := []salesforce.Field{sf("Id", "id"), sf("IsDeleted", "boolean"), sf("Name", "string"), sf("Type", "picklist"), sf("ParentId", "reference")}
	fields = append(fields, addressFields("Billing")...)
	formula := sf("Score__c", "double")
	formula.Calculated = true
	fields = append(fields, sf("Phone", "phone"), sf("SystemModstamp", "datetime"), formula)
	return &salesforce.SObjectDescribe{Name: "Account", Fields: fields}
}

// docAccount is the Account field order of the protocol reference's worked
// example (§2.3): Description is 16 and LastModifiedDate 22.
func docAccount() *salesforce.SObjectDescribe {
	fields := []salesforce.Field{sf("Id", "id"), sf("IsDeleted", "boolean"), sf("Name", "string"), sf("Type", "picklist"), sf("ParentId", "reference")}
	fields = append(fields, addressFields("Billing")...)
	fields = append(fields, addressFields("Shipping")...)
	fields = append(fields,
		sf("Phone", "phone"), sf("Fax", "phone"), sf("AccountNumber", "string"), sf("Website", "url"),
		sf("Sic", "string"), sf("Industry", "picklist"), sf("AnnualRevenue", "currency"),
		sf("NumberOfEmployees", "int"), sf("Ownership", "picklist"), sf("TickerSymbol", "string"),
		sf("Description", "textarea"), sf("Rating", "picklist"), sf("Site", "string"),
		sf("OwnerId", "reference"), sf("CreatedDate", "datetime"), sf("CreatedById", "reference"),
		sf("LastModifiedDate", "datetime"), sf("LastModifiedById", "reference"), sf("SystemModstamp", "datetime"),
	)
	return &salesforce.SObjectDescribe{Name: "Account", Fields: fields}
}

// contact has a Name compound, two address compounds of the same shape, a
// custom location compound and one field of every scalar type.
func contact() *salesforce.SObjectDescribe {
	name := sf("Name", "string")
	name.Calculated = true // the compound survives even so
	fields := []salesforce.Field{
		sf("Id", "id"), sf("IsDeleted", "boolean"), sf("AccountId", "reference"),
		component("LastName", "string", "Name"), component("FirstName", "string", "Name"),
		component("Salutation", "picklist", "Name"), name,
	}
	fields = append(fields, addressFields("Mailing")...)
	fields = append(fields, addressFields("Other")...)
	fields = append(fields,
		sf("Phone", "phone"), sf("Email", "email"), sf("Birthdate", "date"),
		sf("Best_Time__c", "time"), sf("DoNotCall", "boolean"), sf("Visits__c", "int"),
		sf("Big__c", "long"), sf("Share__c", "percent"), sf("Tags__c", "multipicklist"),
		component("Geo__Latitude__s", "double", "Geo__c"), component("Geo__Longitude__s", "double", "Geo__c"),
		sf("Geo__c", "location"),
		sf("LastModifiedDate", "datetime"), sf("SystemModstamp", "datetime"),
	)
	return &salesforce.SObjectDescribe{Name: "Contact", Fields: fields}
}

// mustSchema derives a change event schema or fails the test.
func mustSchema(t testing.TB, d *salesforce.SObjectDescribe) *Schema {
	t.Helper()
	s, err := ChangeEventSchema(d)
	if err != nil {
		t.Fatalf("ChangeEventSchema(%s): %v", d.Name, err)
	}
	return s
}

// lowInk is the platform event of the protocol reference's example.
func lowInk(t testing.TB) *Schema {
	t.Helper()
	s, err := PlatformEventSchema("/event/Low_Ink__e", []salesforce.Field{
		sf("ReplayId", "string"), sf("CreatedDate", "datetime"), sf("CreatedById", "reference"), sf("EventUuid", "string"),
		sf("Printer_Model__c", "string"), sf("Serial_Number__c", "string"), sf("Ink_Percentage__c", "percent"),
		sf("Count__c", "int"), sf("Urgent__c", "boolean"),
	})
	if err != nil {
		t.Fatalf("PlatformEventSchema: %v", err)
	}
	return s
}

// names returns the top-level field names of s.
func names(s *Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// bytesReader avoids importing bytes in several test files.
func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
