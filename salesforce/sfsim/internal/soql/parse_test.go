package soql

import (
	"slices"
	"strings"
	"testing"
)

func TestParse_Canonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, want string
	}{
		{"minimal", "SELECT Id FROM Account", "SELECT Id FROM Account"},
		{"keywords any case", "select Id, name fRoM Account wHeRe Name = 'x' oRdEr bY Name dEsC nUlLs LaSt LiMiT 5 oFfSeT 2",
			"SELECT Id, name FROM Account WHERE Name = 'x' ORDER BY Name DESC NULLS LAST LIMIT 5 OFFSET 2"},
		{"whitespace and newlines", "SELECT\n\tId ,Name\r\nFROM  Account\nWHERE Name='x'",
			"SELECT Id, Name FROM Account WHERE Name = 'x'"},
		{"count", "SELECT COUNT() FROM Account WHERE IsDeleted = false", "SELECT COUNT() FROM Account WHERE IsDeleted = false"},
		{"count spaced", "SELECT count ( ) FROM Account", "SELECT COUNT() FROM Account"},
		{"object named Order", "SELECT Id FROM Order ORDER BY Id", "SELECT Id FROM Order ORDER BY Id"},
		{"operators", "SELECT Id FROM A WHERE a = 1 AND b != 2 AND c <> 3 AND d < 4 AND e <= 5 AND f > 6 AND g >= 7",
			"SELECT Id FROM A WHERE a = 1 AND b != 2 AND c != 3 AND d < 4 AND e <= 5 AND f > 6 AND g >= 7"},
		{"no spaces around operators", "SELECT Id FROM A WHERE a>=-1.5 AND b<>'x'", "SELECT Id FROM A WHERE a >= -1.5 AND b != 'x'"},
		{"literals", "SELECT Id FROM A WHERE a = TRUE OR b = False OR c = NULL OR d = +7 OR e = 2024-01-31 OR f = 2024-01-31T10:00:00Z",
			"SELECT Id FROM A WHERE a = true OR b = false OR c = null OR d = +7 OR e = 2024-01-31 OR f = 2024-01-31T10:00:00Z"},
		{"datetime formats", "SELECT Id FROM A WHERE a = 2024-01-31T10:00:00+01:00 OR b = 2024-01-31T10:00:00-08:00 OR c = 2024-01-31T10:00:00.000Z",
			"SELECT Id FROM A WHERE a = 2024-01-31T10:00:00+01:00 OR b = 2024-01-31T10:00:00-08:00 OR c = 2024-01-31T10:00:00.000Z"},
		{"relative dates", "SELECT Id FROM A WHERE a = today OR b = Yesterday OR c = last_n_days:30 OR d = NEXT_N_DAYS : 2 OR e = THIS_MONTH",
			"SELECT Id FROM A WHERE a = TODAY OR b = YESTERDAY OR c = LAST_N_DAYS:30 OR d = NEXT_N_DAYS:2 OR e = THIS_MONTH"},
		{"string escapes", `SELECT Id FROM A WHERE a = 'O\'Brien \\ \n \t \u00e9 \"'`, `SELECT Id FROM A WHERE a = 'O\'Brien \\ \n \t é "'`},
		{"like wildcards and escapes", `SELECT Id FROM A WHERE a LIKE 'a%b_c\%d\_'`, `SELECT Id FROM A WHERE a LIKE 'a%b_c\%d\_'`},
		{"in and not in", "SELECT Id FROM A WHERE a IN ('x','y') AND b NOT IN (1, 2) AND c in (null)",
			"SELECT Id FROM A WHERE a IN ('x', 'y') AND b NOT IN (1, 2) AND c IN (null)"},
		{"grouping", "SELECT Id FROM A WHERE (a = 1 AND b = 2) OR (c = 3 AND (d = 4 OR e = 5))",
			"SELECT Id FROM A WHERE (a = 1 AND b = 2) OR (c = 3 AND (d = 4 OR e = 5))"},
		{"redundant parentheses", "SELECT Id FROM A WHERE ((a = 1))", "SELECT Id FROM A WHERE a = 1"},
		{"not", "SELECT Id FROM A WHERE NOT a = 1", "SELECT Id FROM A WHERE NOT a = 1"},
		{"not group", "SELECT Id FROM A WHERE NOT (a = 1 OR b = 2)", "SELECT Id FROM A WHERE NOT (a = 1 OR b = 2)"},
		{"not first then and", "SELECT Id FROM A WHERE NOT a = 1 AND b = 2", "SELECT Id FROM A WHERE NOT a = 1 AND b = 2"},
		{"not inside parentheses", "SELECT Id FROM A WHERE a = 1 AND (NOT b = 2)", "SELECT Id FROM A WHERE a = 1 AND (NOT b = 2)"},
		{"order by many", "SELECT Id FROM A ORDER BY a, b ASC, c DESC, d NULLS FIRST, e ASC NULLS LAST",
			"SELECT Id FROM A ORDER BY a, b ASC, c DESC, d NULLS FIRST, e ASC NULLS LAST"},
		{"relationship path parses", "SELECT Owner.Name FROM Account", "SELECT Owner.Name FROM Account"},
		{"limit zero", "SELECT Id FROM A LIMIT 0", "SELECT Id FROM A LIMIT 0"},
		{"offset max", "SELECT Id FROM A OFFSET 2000", "SELECT Id FROM A OFFSET 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, false)
			if got := q.String(); got != tt.want {
				t.Errorf("String() = %q\nwant        %q", got, tt.want)
			}
			again := mustParse(t, q.String(), false)
			if again.String() != q.String() {
				t.Errorf("round trip changed %q into %q", q.String(), again.String())
			}
		})
	}
}

func TestParse_Accessors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		wantObject  string
		wantFields  []string
		wantCount   bool
	}{
		{"fields as written", "SELECT Id, name, Account.Industry FROM account", "account", []string{"Id", "name", "Account.Industry"}, false},
		{"count", "SELECT COUNT() FROM Contact", "Contact", []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, false)
			if q.Object() != tt.wantObject || !slices.Equal(q.Fields(), tt.wantFields) || q.IsCount() != tt.wantCount {
				t.Errorf("Object, Fields, IsCount = %q, %q, %v; want %q, %q, %v",
					q.Object(), q.Fields(), q.IsCount(), tt.wantObject, tt.wantFields, tt.wantCount)
			}
		})
	}
}

func TestParse_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, wantCode, wantDetail string
	}{
		{"misspelled FROM", "SELECT Id FORM Account", CodeMalformedQuery, "unexpected token: 'FORM'"},
		{"empty", "", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"not a select", "DELETE FROM Account", CodeMalformedQuery, "unexpected token: 'DELETE'"},
		{"no fields", "SELECT FROM Account", CodeMalformedQuery, "unexpected token: 'FROM'"},
		{"trailing comma", "SELECT Id, FROM Account", CodeMalformedQuery, "unexpected token: 'FROM'"},
		{"no object", "SELECT Id FROM", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"alias not supported", "SELECT Id FROM Account a", CodeMalformedQuery, "unexpected token: 'a'"},
		{"empty where", "SELECT Id FROM Account WHERE", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"missing operator", "SELECT Id FROM Account WHERE Name", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"missing value", "SELECT Id FROM Account WHERE Name =", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"field as value", "SELECT Id FROM Account WHERE Name = Industry", CodeMalformedQuery, "unexpected token: 'Industry'"},
		{"and or mixed", "SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3", CodeMalformedQuery, "unexpected token: 'OR'"},
		{"or and mixed", "SELECT Id FROM Account WHERE a = 1 OR b = 2 AND c = 3", CodeMalformedQuery, "unexpected token: 'AND'"},
		{"not after and", "SELECT Id FROM Account WHERE a = 1 AND NOT b = 2", CodeMalformedQuery, "unexpected token: 'NOT'"},
		{"double not", "SELECT Id FROM Account WHERE NOT NOT a = 1", CodeMalformedQuery, "unexpected token: 'NOT'"},
		{"unclosed parenthesis", "SELECT Id FROM Account WHERE (a = 1", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"extra parenthesis", "SELECT Id FROM Account WHERE a = 1)", CodeMalformedQuery, "unexpected token: ')'"},
		{"unterminated string", "SELECT Id FROM Account WHERE Name = 'abc", CodeMalformedQuery, "line 1:40 mismatched character '<EOF>' expecting '''"},
		{"bad escape", `SELECT Id FROM Account WHERE Name = 'a\dc'`, CodeMalformedQuery, `Invalid string literal 'a\dc'. Illegal character sequence '\d' in string literal.`},
		{"bad unicode escape", `SELECT Id FROM Account WHERE Name = '\u12'`, CodeMalformedQuery, `Invalid string literal '\u12'. Illegal character sequence '\u' in string literal.`},
		{"double quotes", `SELECT Id FROM Account WHERE Name = "x"`, CodeMalformedQuery, `line 1:36 no viable alternative at character '"'`},
		{"stray character", "SELECT Id FROM Account WHERE Name = 'x' #", CodeMalformedQuery, "line 1:40 no viable alternative at character '#'"},
		{"bang alone", "SELECT Id FROM Account WHERE Name ! 'x'", CodeMalformedQuery, "line 1:34 no viable alternative at character '!'"},
		{"impossible date", "SELECT Id FROM Account WHERE d = 2024-02-30", CodeMalformedQuery, "unexpected token: '2024-02-30'"},
		{"datetime without zone", "SELECT Id FROM Account WHERE d = 2024-01-31T10:00:00", CodeMalformedQuery, "unexpected token: '2024-01-31T10:00:00'"},
		{"datetime bad hour", "SELECT Id FROM Account WHERE d = 2024-01-31T25:00:00Z", CodeMalformedQuery, "unexpected token: '2024-01-31T25:00:00Z'"},
		{"datetime compact zone", "SELECT Id FROM Account WHERE d = 2024-01-31T10:00:00+0100", CodeMalformedQuery, "unexpected token: '2024-01-31T10:00:00+0100'"},
		{"like needs string", "SELECT Id FROM Account WHERE Name LIKE 5", CodeMalformedQuery, "unexpected token: '5'"},
		{"empty in list", "SELECT Id FROM Account WHERE Name IN ()", CodeMalformedQuery, "unexpected token: ')'"},
		{"in without parentheses", "SELECT Id FROM Account WHERE Name IN 'a'", CodeMalformedQuery, "unexpected token: ''a''"},
		{"not without in", "SELECT Id FROM Account WHERE Name NOT LIKE 'a'", CodeMalformedQuery, "unexpected token: 'LIKE'"},
		{"unknown relative literal", "SELECT Id FROM Account WHERE d = LAST_90_DAYS", CodeMalformedQuery, "unexpected token: 'LAST_90_DAYS'"},
		{"n literal without n", "SELECT Id FROM Account WHERE d = LAST_N_DAYS", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"n literal with word", "SELECT Id FROM Account WHERE d = LAST_N_DAYS:x", CodeMalformedQuery, "unexpected token: 'x'"},
		{"n literal negative", "SELECT Id FROM Account WHERE d = LAST_N_DAYS:-1", CodeMalformedQuery, "unexpected token: '-1'"},
		{"bind variable", "SELECT Id FROM Account WHERE Id = :ids", CodeMalformedQuery, "Bind variables only allowed in Apex code"},
		{"limit negative", "SELECT Id FROM Account LIMIT -1", CodeMalformedQuery, "unexpected token: '-1'"},
		{"limit decimal", "SELECT Id FROM Account LIMIT 1.5", CodeMalformedQuery, "unexpected token: '1.5'"},
		{"limit string", "SELECT Id FROM Account LIMIT '5'", CodeMalformedQuery, "unexpected token: ''5''"},
		{"limit huge", "SELECT Id FROM Account LIMIT 99999999999", CodeNumberOutsideValidRange, "number out of range: 99999999999"},
		{"offset too large", "SELECT Id FROM Account OFFSET 2001", CodeNumberOutsideValidRange, "Maximum SOQL offset allowed is 2000"},
		{"clauses out of order", "SELECT Id FROM Account LIMIT 5 WHERE Name = 'x'", CodeMalformedQuery, "unexpected token: 'WHERE'"},
		{"order without by", "SELECT Id FROM Account ORDER Name", CodeMalformedQuery, "unexpected token: 'Name'"},
		{"nulls middle", "SELECT Id FROM Account ORDER BY Name NULLS MIDDLE", CodeMalformedQuery, "unexpected token: 'MIDDLE'"},
		{"count with field", "SELECT COUNT(Id) FROM Account", CodeMalformedQuery, "unexpected token: 'Id' (sfsim does not support aggregate functions other than COUNT())"},
		{"count and field", "SELECT COUNT(), Id FROM Account", CodeMalformedQuery, "unexpected token: ','"},
		{"aggregate", "SELECT MAX(AnnualRevenue) FROM Account", CodeMalformedQuery, "unexpected token: 'MAX' (sfsim does not support functions in SELECT)"},
		{"group by", "SELECT Id FROM Account GROUP BY Name", CodeMalformedQuery, "unexpected token: 'GROUP' (sfsim does not support GROUP BY)"},
		{"subquery", "SELECT Id, (SELECT Id FROM Contacts) FROM Account", CodeMalformedQuery, "unexpected token: '(' (sfsim does not support subqueries)"},
		{"semi-join", "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", CodeMalformedQuery, "unexpected token: 'SELECT' (sfsim does not support semi-join sub-selects)"},
		{"includes", "SELECT Id FROM Account WHERE Tags__c INCLUDES ('a')", CodeMalformedQuery, "unexpected token: 'INCLUDES' (sfsim does not support INCLUDES)"},
		{"with", "SELECT Id FROM Account WITH SECURITY_ENFORCED", CodeMalformedQuery, "unexpected token: 'WITH' (sfsim does not support WITH clauses)"},
		{"too deep", "SELECT Id FROM Account WHERE " + strings.Repeat("(", 150) + "a = 1" + strings.Repeat(")", 150),
			CodeMalformedQuery, "unexpected token: '(' (sfsim allows at most 100 nested parentheses)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tt.query)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error", tt.query, q)
			}
			checkErr(t, err, tt.wantCode, tt.wantDetail)
		})
	}
}

func TestError_Message(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, want string
	}{
		{"one line", "SELECT Id FORM Account",
			"MALFORMED_QUERY: \nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"},
		{"second line", "SELECT Id\nFROM Account\nWHERE a = 1 AND b = 2 OR c = 3",
			"MALFORMED_QUERY: \nWHERE a = 1 AND b = 2 OR c = 3\n                      ^\nERROR at Row:3:Column:23\nunexpected token: 'OR'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.query)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q) error =\n%v\nwant\n%s", tt.query, err, tt.want)
			}
		})
	}
}
