package soql

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
)

// testNow is the clock for relative date literals: Friday 2024-03-15
// 10:30 UTC.
var testNow = time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)

// accountDescribe is a trimmed Account describe covering every field
// class.
func accountDescribe() *salesforce.SObjectDescribe {
	return &salesforce.SObjectDescribe{
		Name:      "Account",
		Queryable: true,
		Fields: []salesforce.Field{
			{Name: "Id", Type: "id"},
			{Name: "Name", Type: "string", Length: 255},
			{Name: "Industry", Type: "picklist"},
			{Name: "AnnualRevenue", Type: "currency"},
			{Name: "NumberOfEmployees", Type: "int"},
			{Name: "IsDeleted", Type: "boolean"},
			{Name: "CreatedDate", Type: "datetime"},
			{Name: "LastActivityDate", Type: "date"},
			{Name: "Description", Type: "textarea", Length: 32000},
			{Name: "BillingAddress", Type: "address"},
			{Name: "OwnerId", Type: "reference", ReferenceTo: []string{"User"}},
			{Name: "Tags__c", Type: "multipicklist"},
			{Name: "Short__c", Type: "textarea", Length: 255},
		},
	}
}

// mustParse parses and, when bind is set, binds q to accountDescribe.
func mustParse(t testing.TB, q string, bind bool) *Query {
	t.Helper()
	query, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	if bind {
		if err := query.Bind(accountDescribe()); err != nil {
			t.Fatalf("Bind(%q): %v", q, err)
		}
	}
	return query
}

// checkErr asserts err is an *Error with code and a message ending in
// detail.
func checkErr(t *testing.T, err error, code, detail string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if e.Code != code {
		t.Errorf("Code = %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if !strings.HasSuffix(e.Message, "\n"+detail) {
		t.Errorf("Message = %q, want it to end in %q", e.Message, detail)
	}
}
