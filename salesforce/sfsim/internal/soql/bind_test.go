package soql

import (
	"slices"
	"testing"

	"github.com/sfconnect/sfconnect/salesforce"
)

func TestQuery_Bind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		wantObject  string
		wantFields  []string
		wantString  string
	}{
		{"canonical names", "select id, NAME, annualrevenue from ACCOUNT where industry = 'x' order by createddate",
			"Account", []string{"Id", "Name", "AnnualRevenue"},
			"SELECT Id, Name, AnnualRevenue FROM Account WHERE Industry = 'x' ORDER BY CreatedDate"},
		{"object-qualified field", "SELECT account.Name FROM Account WHERE Account.Industry != null", "Account", []string{"Name"},
			"SELECT Name FROM Account WHERE Industry != null"},
		{"id without describe field", "SELECT ID FROM Account", "Account", []string{"Id"}, "SELECT Id FROM Account"},
		{"count", "SELECT COUNT() FROM account", "Account", []string{}, "SELECT COUNT() FROM Account"},
		{"every filterable class", "SELECT Id FROM Account WHERE Name = 'a' AND Id = '001000000000001' AND OwnerId IN ('005000000000001AAA') " +
			"AND IsDeleted = false AND AnnualRevenue > 1 AND NumberOfEmployees < 2 AND CreatedDate > 2024-01-01T00:00:00Z " +
			"AND LastActivityDate < 2024-01-01 AND CreatedDate = TODAY AND LastActivityDate = LAST_N_DAYS:3 AND Short__c = 'x' " +
			"AND Tags__c = 'a;b' AND Name = null AND IsDeleted = null AND Id != ''",
			"Account", []string{"Id"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, true)
			if q.Object() != tt.wantObject || !slices.Equal(q.Fields(), tt.wantFields) {
				t.Errorf("Object, Fields = %q, %q; want %q, %q", q.Object(), q.Fields(), tt.wantObject, tt.wantFields)
			}
			if tt.wantString != "" && q.String() != tt.wantString {
				t.Errorf("String() = %q, want %q", q.String(), tt.wantString)
			}
		})
	}
}

func TestQuery_Bind_Errors(t *testing.T) {
	t.Parallel()
	notQueryable := accountDescribe()
	notQueryable.Queryable = false
	contact := &salesforce.SObjectDescribe{Name: "Contact", Queryable: true}
	tests := []struct {
		name, query string
		describe    *salesforce.SObjectDescribe
		wantCode    string
		wantDetail  string
	}{
		{"unknown object", "SELECT Id FROM Foo", nil, CodeInvalidType,
			"sObject type 'Foo' is not supported. If you are attempting to use a custom object, be sure to append the '__c' " +
				"after the entity name. Please reference your WSDL or the describe call for the appropriate names."},
		{"other object's describe", "SELECT Id FROM Account", contact, CodeInvalidType, notSupportedType("Account")},
		{"not queryable", "SELECT Id FROM Account", notQueryable, CodeInvalidType, notSupportedType("Account")},
		{"unknown selected field", "SELECT Id, Foo FROM Account", nil, CodeInvalidField,
			"No such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure to append the " +
				"'__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."},
		{"unknown where field", "SELECT Id FROM Account WHERE Bar__c = 'x'", nil, CodeInvalidField, noSuchColumn("Bar__c", "Account")},
		{"unknown order field", "SELECT Id FROM Account ORDER BY Baz", nil, CodeInvalidField, noSuchColumn("Baz", "Account")},
		{"qualified unknown field", "SELECT Account.Foo FROM Account", nil, CodeInvalidField, noSuchColumn("Foo", "Account")},
		{"relationship path", "SELECT Owner.Name FROM Account", nil, CodeInvalidField,
			"Relationship field path 'Owner.Name' is not supported by sfsim: query fields of 'Account' itself (for example " +
				"an Id reference field) and look related records up separately."},
		{"relationship path in where", "SELECT Id FROM Account WHERE Parent.Name = 'x'", nil, CodeInvalidField,
			"Relationship field path 'Parent.Name' is not supported by sfsim: query fields of 'Account' itself (for example " +
				"an Id reference field) and look related records up separately."},
		{"duplicate field", "SELECT Name, Id, name FROM Account", nil, CodeMalformedQuery, "duplicate field selected: Name"},
		{"number for string", "SELECT Id FROM Account WHERE Name = 5", nil, CodeInvalidField,
			"value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"},
		{"string for currency", "SELECT Id FROM Account WHERE AnnualRevenue > '5'", nil, CodeInvalidField,
			"value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes"},
		{"string for int in list", "SELECT Id FROM Account WHERE NumberOfEmployees IN (1, '2')", nil, CodeInvalidField,
			"value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be enclosed in quotes"},
		{"string for boolean", "SELECT Id FROM Account WHERE IsDeleted = 'true'", nil, CodeInvalidField,
			"value of filter criterion for field 'IsDeleted' must be of type boolean and should not be enclosed in quotes"},
		{"date for datetime", "SELECT Id FROM Account WHERE CreatedDate > 2024-01-01", nil, CodeInvalidField,
			"value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"},
		{"datetime for date", "SELECT Id FROM Account WHERE LastActivityDate > 2024-01-01T00:00:00Z", nil, CodeInvalidField,
			"value of filter criterion for field 'LastActivityDate' must be of type date and should not be enclosed in quotes"},
		{"quoted date", "SELECT Id FROM Account WHERE LastActivityDate = '2024-01-01'", nil, CodeInvalidField,
			"value of filter criterion for field 'LastActivityDate' must be of type date and should not be enclosed in quotes"},
		{"relative date for number", "SELECT Id FROM Account WHERE NumberOfEmployees = TODAY", nil, CodeInvalidField,
			"value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be enclosed in quotes"},
		{"like on number", "SELECT Id FROM Account WHERE AnnualRevenue LIKE '5%'", nil, CodeInvalidField,
			"value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes"},
		{"like on id", "SELECT Id FROM Account WHERE Id LIKE '001%'", nil, CodeInvalidQueryFilterOperator, "invalid operator on id field"},
		{"like on reference", "SELECT Id FROM Account WHERE OwnerId LIKE '005%'", nil, CodeInvalidQueryFilterOperator, "invalid operator on id field"},
		{"like on multipicklist", "SELECT Id FROM Account WHERE Tags__c LIKE 'a%'", nil, CodeInvalidQueryFilterOperator,
			"invalid operator on multipicklist field"},
		{"ordering on multipicklist", "SELECT Id FROM Account WHERE Tags__c > 'a'", nil, CodeInvalidQueryFilterOperator,
			"invalid operator on multipicklist field"},
		{"malformed id", "SELECT Id FROM Account WHERE Id = 'foo'", nil, CodeInvalidQueryFilterOperator, "invalid ID field: foo"},
		{"malformed id in list", "SELECT Id FROM Account WHERE OwnerId IN ('005000000000001', '005-bad-id-000001')", nil,
			CodeInvalidQueryFilterOperator, "invalid ID field: 005-bad-id-000001"},
		{"filter long text", "SELECT Id FROM Account WHERE Description = 'x'", nil, CodeInvalidField,
			"field 'Description' can not be filtered in a query call"},
		{"filter address", "SELECT Id FROM Account WHERE BillingAddress != null", nil, CodeInvalidField,
			"field 'BillingAddress' can not be filtered in a query call"},
		{"sort long text", "SELECT Id FROM Account ORDER BY description", nil, CodeInvalidField,
			"field 'Description' can not be sorted in a query call"},
		{"sort multipicklist", "SELECT Id FROM Account ORDER BY Tags__c", nil, CodeInvalidField,
			"field 'Tags__c' can not be sorted in a query call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, false)
			before := q.String()
			d := tt.describe
			if d == nil && tt.wantCode != CodeInvalidType {
				d = accountDescribe()
			}
			checkErr(t, q.Bind(d), tt.wantCode, tt.wantDetail)
			if q.String() != before {
				t.Errorf("failed Bind changed the query from %q to %q", before, q.String())
			}
		})
	}
}

func TestQuery_Bind_ErrorPosition(t *testing.T) {
	t.Parallel()
	q := mustParse(t, "SELECT Id FROM Account WHERE Name = 5", false)
	err := q.Bind(accountDescribe())
	want := "INVALID_FIELD: \nSELECT Id FROM Account WHERE Name = 5\n                                    ^\nERROR at Row:1:Column:37\n" +
		"value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"
	if err == nil || err.Error() != want {
		t.Errorf("Bind error =\n%v\nwant\n%s", err, want)
	}
}
