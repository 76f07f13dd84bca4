package soql

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// rec builds a record from alternating keys and values.
func rec(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestQuery_Match(t *testing.T) {
	t.Parallel()
	pdt := time.FixedZone("PDT", -7*3600)
	tests := []struct {
		name  string
		where string
		rec   map[string]any
		now   time.Time // testNow when zero
		want  bool
	}{
		// Strings: case-insensitive, as in Salesforce.
		{"string eq ignores case", "Name = 'acme'", rec("Name", "Acme"), time.Time{}, true},
		{"string eq differs", "Name = 'acme'", rec("Name", "Acme Corp"), time.Time{}, false},
		{"string ne", "Name != 'acme'", rec("Name", "Globex"), time.Time{}, true},
		{"string ne same ignoring case", "Name <> 'ACME'", rec("Name", "acme"), time.Time{}, false},
		{"string lt", "Name < 'b'", rec("Name", "Acme"), time.Time{}, true},
		{"string lt ignores case", "Name < 'B'", rec("Name", "acme"), time.Time{}, true},
		{"string le equal", "Name <= 'ACME'", rec("Name", "acme"), time.Time{}, true},
		{"string gt", "Name > 'acme'", rec("Name", "Acme Corp"), time.Time{}, true},
		{"string ge", "Name >= 'b'", rec("Name", "Acme"), time.Time{}, false},
		{"unicode case folding", "Name = 'ÉCOLE'", rec("Name", "école"), time.Time{}, true},
		{"escaped quote", `Name = 'O\'Brien'`, rec("Name", "O'Brien"), time.Time{}, true},
		{"escaped backslash", `Name = 'a\\b'`, rec("Name", `a\b`), time.Time{}, true},
		{"escaped newline", `Name = 'a\nb'`, rec("Name", "a\nb"), time.Time{}, true},
		{"escaped tab is not n", `Name = 'a\tb'`, rec("Name", "a\nb"), time.Time{}, false},
		{"unicode escape", `Name = 'caf\u00e9'`, rec("Name", "café"), time.Time{}, true},
		{"percent is literal outside like", `Name = '100%'`, rec("Name", "100%"), time.Time{}, true},
		{"percent is not a wildcard outside like", `Name = '1%'`, rec("Name", "100"), time.Time{}, false},

		// LIKE: % and _ wildcards, case-insensitive, whole-value match.
		{"like prefix", "Name LIKE 'ac%'", rec("Name", "Acme"), time.Time{}, true},
		{"like suffix", "Name LIKE '%ME'", rec("Name", "Acme"), time.Time{}, true},
		{"like infix", "Name LIKE '%cm%'", rec("Name", "Acme"), time.Time{}, true},
		{"like is anchored", "Name LIKE 'cm'", rec("Name", "Acme"), time.Time{}, false},
		{"like underscore", "Name LIKE 'a_me'", rec("Name", "Acme"), time.Time{}, true},
		{"like underscore is one char", "Name LIKE 'a_me'", rec("Name", "Acmme"), time.Time{}, false},
		{"like a%b_", "Name LIKE 'a%b_'", rec("Name", "Axxbz"), time.Time{}, true},
		{"like a%b_ needs final char", "Name LIKE 'a%b_'", rec("Name", "Axxb"), time.Time{}, false},
		{"like backtracking", "Name LIKE '%ab%abc'", rec("Name", "xabyabzabc"), time.Time{}, true},
		{"like percent only", "Name LIKE '%'", rec("Name", "anything"), time.Time{}, true},
		{"like escaped percent", `Name LIKE '100\%'`, rec("Name", "100%"), time.Time{}, true},
		{"like escaped percent is literal", `Name LIKE '100\%'`, rec("Name", "1000"), time.Time{}, false},
		{"like escaped underscore", `Name LIKE 'a\_b'`, rec("Name", "a_b"), time.Time{}, true},
		{"like escaped underscore is literal", `Name LIKE 'a\_b'`, rec("Name", "axb"), time.Time{}, false},
		{"like null", "Name LIKE '%'", rec("Name", nil), time.Time{}, false},
		{"not like null", "NOT Name LIKE 'a%'", rec(), time.Time{}, true},
		{"like picklist", "Industry LIKE 'tech%'", rec("Industry", "Technology"), time.Time{}, true},

		// Numbers and booleans.
		{"number gt", "AnnualRevenue > 1000", rec("AnnualRevenue", 1500.0), time.Time{}, true},
		{"number eq decimal", "AnnualRevenue = 1500.5", rec("AnnualRevenue", 1500.5), time.Time{}, true},
		{"number eq int literal", "AnnualRevenue = 1500", rec("AnnualRevenue", 1500.0), time.Time{}, true},
		{"number negative", "AnnualRevenue >= -5", rec("AnnualRevenue", -5.0), time.Time{}, true},
		{"number lt", "NumberOfEmployees < 10", rec("NumberOfEmployees", 10.0), time.Time{}, false},
		{"number le", "NumberOfEmployees <= 10", rec("NumberOfEmployees", 10.0), time.Time{}, true},
		{"number from Go int", "NumberOfEmployees = 10", rec("NumberOfEmployees", 10), time.Time{}, true},
		{"number ne", "NumberOfEmployees != 10", rec("NumberOfEmployees", 11.0), time.Time{}, true},
		{"boolean true", "IsDeleted = TRUE", rec("IsDeleted", true), time.Time{}, true},
		{"boolean false", "IsDeleted = false", rec("IsDeleted", true), time.Time{}, false},
		{"boolean ne", "IsDeleted != false", rec("IsDeleted", true), time.Time{}, true},

		// Null: = null, != null, and nulls against values.
		{"eq null nil", "Industry = null", rec("Industry", nil), time.Time{}, true},
		{"eq null missing", "Industry = NULL", rec(), time.Time{}, true},
		{"eq null empty string", "Industry = null", rec("Industry", ""), time.Time{}, true},
		{"eq null set", "Industry = null", rec("Industry", "Tech"), time.Time{}, false},
		{"ne null set", "Industry != null", rec("Industry", "Tech"), time.Time{}, true},
		{"ne null nil", "Industry != null", rec(), time.Time{}, false},
		{"eq empty string is null", "Industry = ''", rec(), time.Time{}, true},
		{"null field ne value", "Industry != 'Tech'", rec(), time.Time{}, true},
		{"null field eq value", "Industry = 'Tech'", rec(), time.Time{}, false},
		{"null field lt", "AnnualRevenue < 5", rec(), time.Time{}, false},
		{"null field gt", "AnnualRevenue > 5", rec(), time.Time{}, false},
		{"null literal with lt", "AnnualRevenue < null", rec("AnnualRevenue", 1.0), time.Time{}, false},

		// IN and NOT IN.
		{"in", "Industry IN ('Energy', 'Tech')", rec("Industry", "tech"), time.Time{}, true},
		{"in miss", "Industry IN ('Energy', 'Tech')", rec("Industry", "Retail"), time.Time{}, false},
		{"in null field", "Industry IN ('Energy')", rec(), time.Time{}, false},
		{"in with null", "Industry IN ('Energy', null)", rec(), time.Time{}, true},
		{"not in", "Industry NOT IN ('Energy', 'Tech')", rec("Industry", "Retail"), time.Time{}, true},
		{"not in hit", "Industry NOT IN ('Energy', 'Tech')", rec("Industry", "ENERGY"), time.Time{}, false},
		{"not in null field", "Industry NOT IN ('Energy')", rec(), time.Time{}, true},
		{"in numbers", "NumberOfEmployees IN (1, 2, 3)", rec("NumberOfEmployees", 2.0), time.Time{}, true},
		{"in dates", "LastActivityDate IN (2024-01-01, 2024-02-01)", rec("LastActivityDate", "2024-02-01"), time.Time{}, true},
		{"in relative dates", "LastActivityDate IN (YESTERDAY, TOMORROW)", rec("LastActivityDate", "2024-03-16"), time.Time{}, true},
		{"in booleans", "IsDeleted IN (true)", rec("IsDeleted", true), time.Time{}, true},

		// Ids: case-sensitive, 15 and 18 characters equal.
		{"id 18 eq 15", "Id = '001xx000003DGb2'", rec("Id", "001xx000003DGb2AAG"), time.Time{}, true},
		{"id 15 eq 18", "Id = '001xx000003DGb2AAG'", rec("Id", "001xx000003DGb2"), time.Time{}, true},
		{"id is case-sensitive", "Id = '001XX000003DGB2AAG'", rec("Id", "001xx000003DGb2AAG"), time.Time{}, false},
		{"id ne", "Id != '001xx000003DGb2AAG'", rec("Id", "001xx000003DGb3AAG"), time.Time{}, true},
		{"id gt for paging", "Id > '001xx000003DGb2AAG'", rec("Id", "001xx000003DGb3AAG"), time.Time{}, true},
		{"reference in", "OwnerId IN ('005000000000001', '005000000000002')", rec("OwnerId", "005000000000002AAA"), time.Time{}, true},
		{"id in many", "Id IN (" + manyIDs(2000, 7) + ")", rec("Id", fmt.Sprintf("001%012dAAA", 1337)), time.Time{}, true},
		{"id in many miss", "Id IN (" + manyIDs(2000, 7) + ")", rec("Id", fmt.Sprintf("001%012dAAA", 4242)), time.Time{}, false},
		{"id not in many", "Id NOT IN (" + manyIDs(2000, 7) + ")", rec("Id", fmt.Sprintf("001%012dAAA", 4242)), time.Time{}, true},

		// Dates: chronological, by calendar day.
		{"date eq", "LastActivityDate = 2024-01-31", rec("LastActivityDate", "2024-01-31"), time.Time{}, true},
		{"date gt", "LastActivityDate > 2024-01-31", rec("LastActivityDate", "2024-02-01"), time.Time{}, true},
		{"date gt across year", "LastActivityDate > 2023-12-31", rec("LastActivityDate", "2024-01-01"), time.Time{}, true},
		{"date le", "LastActivityDate <= 2024-01-31", rec("LastActivityDate", "2024-02-01"), time.Time{}, false},
		{"date ne", "LastActivityDate != 2024-01-31", rec("LastActivityDate", "2024-02-01"), time.Time{}, true},

		// Datetimes: by instant, whatever the offsets.
		{"datetime eq Z", "CreatedDate = 2024-01-31T10:00:00Z", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, true},
		{"datetime eq millis Z", "CreatedDate = 2024-01-31T10:00:00.000Z", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, true},
		{"datetime eq plus offset", "CreatedDate = 2024-01-31T11:00:00+01:00", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, true},
		{"datetime eq minus offset", "CreatedDate = 2024-01-31T02:00:00-08:00", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, true},
		{"datetime record offset", "CreatedDate = 2024-01-31T10:00:00Z", rec("CreatedDate", "2024-01-31T12:00:00.000+0200"), time.Time{}, true},
		{"datetime not lexical", "CreatedDate < 2024-01-31T09:30:00-01:00", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, true},
		{"datetime not lexical gt", "CreatedDate > 2024-01-31T09:30:00-01:00", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, false},
		{"datetime across midnight", "CreatedDate > 2024-01-31T23:00:00-02:00", rec("CreatedDate", "2024-02-01T00:30:00.000+0000"), time.Time{}, false},
		{"datetime millis matter", "CreatedDate > 2024-01-31T10:00:00Z", rec("CreatedDate", "2024-01-31T10:00:00.001+0000"), time.Time{}, true},
		{"datetime ge", "CreatedDate >= 2024-01-31T10:00:00Z", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, true},
		{"datetime le", "CreatedDate <= 2024-01-31T09:59:59Z", rec("CreatedDate", "2024-01-31T10:00:00.000+0000"), time.Time{}, false},

		// Relative date literals, against Friday 2024-03-15 10:30 UTC.
		{"today date", "LastActivityDate = TODAY", rec("LastActivityDate", "2024-03-15"), time.Time{}, true},
		{"today date miss", "LastActivityDate = TODAY", rec("LastActivityDate", "2024-03-14"), time.Time{}, false},
		{"today datetime start", "CreatedDate = TODAY", rec("CreatedDate", "2024-03-15T00:00:00.000+0000"), time.Time{}, true},
		{"today datetime end", "CreatedDate = TODAY", rec("CreatedDate", "2024-03-15T23:59:59.999+0000"), time.Time{}, true},
		{"today datetime before", "CreatedDate = TODAY", rec("CreatedDate", "2024-03-14T23:59:59.000+0000"), time.Time{}, false},
		{"today in user zone", "CreatedDate = TODAY", rec("CreatedDate", "2024-03-16T06:00:00.000+0000"), testNow.In(pdt), true},
		{"today in user zone before", "CreatedDate = TODAY", rec("CreatedDate", "2024-03-15T06:59:59.000+0000"), testNow.In(pdt), false},
		{"date today in user zone", "LastActivityDate = TODAY", rec("LastActivityDate", "2024-03-14"),
			time.Date(2024, 3, 15, 2, 0, 0, 0, time.UTC).In(pdt), true},
		{"gt today is after today", "CreatedDate > TODAY", rec("CreatedDate", "2024-03-15T23:00:00.000+0000"), time.Time{}, false},
		{"gt today tomorrow", "CreatedDate > TODAY", rec("CreatedDate", "2024-03-16T00:00:00.000+0000"), time.Time{}, true},
		{"ge today", "CreatedDate >= TODAY", rec("CreatedDate", "2024-03-15T00:00:00.000+0000"), time.Time{}, true},
		{"lt today", "LastActivityDate < TODAY", rec("LastActivityDate", "2024-03-14"), time.Time{}, true},
		{"le today", "LastActivityDate <= TODAY", rec("LastActivityDate", "2024-03-15"), time.Time{}, true},
		{"ne today", "LastActivityDate != TODAY", rec("LastActivityDate", "2024-03-15"), time.Time{}, false},
		{"yesterday", "LastActivityDate = YESTERDAY", rec("LastActivityDate", "2024-03-14"), time.Time{}, true},
		{"yesterday datetime", "CreatedDate = YESTERDAY", rec("CreatedDate", "2024-03-14T12:00:00.000+0000"), time.Time{}, true},
		{"lt yesterday", "CreatedDate < YESTERDAY", rec("CreatedDate", "2024-03-13T23:59:59.000+0000"), time.Time{}, true},
		{"tomorrow", "LastActivityDate = TOMORROW", rec("LastActivityDate", "2024-03-16"), time.Time{}, true},
		{"last 7 days includes today", "LastActivityDate = LAST_N_DAYS:7", rec("LastActivityDate", "2024-03-15"), time.Time{}, true},
		{"last 7 days first day", "LastActivityDate = LAST_N_DAYS:7", rec("LastActivityDate", "2024-03-08"), time.Time{}, true},
		{"last 7 days too old", "LastActivityDate = LAST_N_DAYS:7", rec("LastActivityDate", "2024-03-07"), time.Time{}, false},
		{"last 7 days future", "LastActivityDate = LAST_N_DAYS:7", rec("LastActivityDate", "2024-03-16"), time.Time{}, false},
		{"lt last 7 days", "LastActivityDate < LAST_N_DAYS:7", rec("LastActivityDate", "2024-03-07"), time.Time{}, true},
		{"gt last 7 days", "CreatedDate > LAST_N_DAYS:7", rec("CreatedDate", "2024-03-16T00:00:00.000+0000"), time.Time{}, true},
		{"last 1 day datetime", "CreatedDate = LAST_N_DAYS:1", rec("CreatedDate", "2024-03-14T00:00:00.000+0000"), time.Time{}, true},
		{"last 0 days is today", "CreatedDate = LAST_N_DAYS:0", rec("CreatedDate", "2024-03-14T23:00:00.000+0000"), time.Time{}, false},
		{"next 3 days", "LastActivityDate = NEXT_N_DAYS:3", rec("LastActivityDate", "2024-03-18"), time.Time{}, true},
		{"next 3 days excludes today", "LastActivityDate = NEXT_N_DAYS:3", rec("LastActivityDate", "2024-03-15"), time.Time{}, false},
		{"this month", "LastActivityDate = THIS_MONTH", rec("LastActivityDate", "2024-03-31"), time.Time{}, true},
		{"last month", "LastActivityDate = LAST_MONTH", rec("LastActivityDate", "2024-02-29"), time.Time{}, true},
		{"next month", "LastActivityDate = NEXT_MONTH", rec("LastActivityDate", "2024-03-31"), time.Time{}, false},
		{"last year", "CreatedDate = LAST_YEAR", rec("CreatedDate", "2023-12-31T23:59:59.000+0000"), time.Time{}, true},
		{"this year", "LastActivityDate = THIS_YEAR", rec("LastActivityDate", "2024-01-01"), time.Time{}, true},
		{"next year", "LastActivityDate > NEXT_YEAR", rec("LastActivityDate", "2026-01-01"), time.Time{}, true},

		// AND, OR, NOT and parentheses.
		{"and both", "Name = 'a' AND Industry = 'b'", rec("Name", "a", "Industry", "b"), time.Time{}, true},
		{"and one", "Name = 'a' AND Industry = 'b'", rec("Name", "a", "Industry", "c"), time.Time{}, false},
		{"or one", "Name = 'a' OR Industry = 'b'", rec("Name", "x", "Industry", "b"), time.Time{}, true},
		{"or none", "Name = 'a' OR Industry = 'b' OR Industry = 'c'", rec("Name", "x", "Industry", "d"), time.Time{}, false},
		{"and of or", "Name = 'a' AND (Industry = 'b' OR Industry = 'c')", rec("Name", "a", "Industry", "c"), time.Time{}, true},
		{"and of or fails", "Name = 'a' AND (Industry = 'b' OR Industry = 'c')", rec("Name", "x", "Industry", "c"), time.Time{}, false},
		{"or of and", "(Name = 'a' AND Industry = 'b') OR Industry = 'c'", rec("Name", "x", "Industry", "c"), time.Time{}, true},
		{"or of and fails", "(Name = 'a' AND Industry = 'b') OR Industry = 'c'", rec("Name", "x", "Industry", "b"), time.Time{}, false},
		{"not", "NOT Name = 'a'", rec("Name", "b"), time.Time{}, true},
		{"not group", "NOT (Name = 'a' OR Name = 'b')", rec("Name", "b"), time.Time{}, false},
		{"not binds to first operand", "NOT Name = 'a' AND Industry = 'b'", rec("Name", "x", "Industry", "b"), time.Time{}, true},
		{"not binds to first operand only", "NOT Name = 'a' AND Industry = 'b'", rec("Name", "x", "Industry", "x"), time.Time{}, false},
		{"parenthesized not", "Industry = 'b' AND (NOT Name = 'a')", rec("Name", "a", "Industry", "b"), time.Time{}, false},
		{"deep nesting", "((Name = 'a' OR (Industry = 'b' AND (IsDeleted = false OR AnnualRevenue > 5))))",
			rec("Name", "x", "Industry", "b", "IsDeleted", true, "AnnualRevenue", 6.0), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			q := mustParse(t, "SELECT Id FROM Account WHERE "+tt.where, true)
			if got := q.Match(tt.rec, now); got != tt.want {
				t.Errorf("Match(%v) = %v, want %v", tt.rec, got, tt.want)
			}
		})
	}
}

// manyIDs renders n quoted 18-character Account ids, every step-th one
// in its 15-character form, for IN lists.
func manyIDs(n, step int) string {
	ids := make([]string, n)
	for i := range ids {
		id := fmt.Sprintf("001%012dAAA", i)
		if i%step == 0 {
			id = id[:15]
		}
		ids[i] = "'" + id + "'"
	}
	return strings.Join(ids, ", ")
}

// TestQuery_Match_Unbound covers queries evaluated without Bind: values
// compare by their dynamic types.
func TestQuery_Match_Unbound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		where string
		rec   map[string]any
		want  bool
	}{
		{"no where", "", rec(), true},
		{"string ignores case", "Name = 'ACME'", rec("Name", "acme"), true},
		{"type mismatch eq", "Name = 5", rec("Name", "5"), false},
		{"type mismatch ne", "Name != 5", rec("Name", "5"), true},
		{"type mismatch lt", "Name < 5", rec("Name", "5"), false},
		{"datetime value", "CreatedDate > 2024-01-31T09:30:00-01:00", rec("CreatedDate", "2024-01-31T11:00:00.000+0000"), true},
		{"date value", "d = 2024-01-31", rec("d", "2024-01-31"), true},
		{"date literal on datetime value", "d = 2024-01-31", rec("d", "2024-01-31T23:00:00.000+0000"), true},
		{"today on date value", "d = TODAY", rec("d", "2024-03-15"), true},
		{"today on datetime value", "d = TODAY", rec("d", "2024-03-15T01:00:00.000+0000"), true},
		{"today on text", "d = TODAY", rec("d", "soon"), false},
		{"number in", "n IN (1, 2)", rec("n", 2.0), true},
		{"number in string value", "n IN (1, 2)", rec("n", "2"), false},
		{"bool value against string", "b = 'true'", rec("b", true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "SELECT Id FROM Account"
			if tt.where != "" {
				src += " WHERE " + tt.where
			}
			q := mustParse(t, src, false)
			if got := q.Match(tt.rec, testNow); got != tt.want {
				t.Errorf("Match(%v) = %v, want %v", tt.rec, got, tt.want)
			}
		})
	}
}
