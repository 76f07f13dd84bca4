package soql

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

// runRecords is a small Account table. Ids end in their position, so
// results are easy to read as id lists.
func runRecords() []map[string]any {
	return []map[string]any{
		rec("Id", "001000000000001AAA", "Name", "delta", "Industry", "Tech", "AnnualRevenue", 300.0,
			"CreatedDate", "2024-01-31T10:00:00.000+0000", "LastActivityDate", "2024-02-01", "IsDeleted", false),
		rec("Id", "001000000000002AAA", "Name", "Alpha", "Industry", nil, "AnnualRevenue", 100.0,
			"CreatedDate", "2024-01-31T11:59:00.000+0200", "LastActivityDate", nil, "IsDeleted", true),
		rec("Id", "001000000000003AAA", "Name", "charlie", "Industry", "Energy", "AnnualRevenue", nil,
			"CreatedDate", "2024-01-31T10:30:00.000+0000", "LastActivityDate", "2023-12-31", "IsDeleted", false),
		rec("Id", "001000000000004AAA", "Name", "Bravo", "Industry", "Tech", "AnnualRevenue", 100.0,
			"CreatedDate", "2023-06-01T00:00:00.000+0000", "LastActivityDate", "2024-02-01", "IsDeleted", false),
		rec("Id", "001000000000005AAA", "Name", "echo", "Industry", "", "AnnualRevenue", 50.0,
			"CreatedDate", "2024-02-01T00:00:00.000+0000", "LastActivityDate", "2024-01-15", "IsDeleted", true),
	}
}

// ids returns the last digit of each result's Id, in order.
func ids(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		id, _ := r["Id"].(string)
		out[i] = id[14:15]
	}
	return out
}

func TestQuery_Run(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		wantIDs     []string
	}{
		{"no order keeps input order", "SELECT Id FROM Account", []string{"1", "2", "3", "4", "5"}},
		{"where", "SELECT Id FROM Account WHERE IsDeleted = false", []string{"1", "3", "4"}},
		{"order by string ignores case", "SELECT Id FROM Account ORDER BY Name", []string{"2", "4", "3", "1", "5"}},
		{"order by string desc", "SELECT Id FROM Account ORDER BY Name DESC", []string{"5", "1", "3", "4", "2"}},
		{"asc nulls first by default", "SELECT Id FROM Account ORDER BY Industry", []string{"2", "5", "3", "1", "4"}},
		{"desc nulls last by default", "SELECT Id FROM Account ORDER BY Industry DESC", []string{"1", "4", "3", "2", "5"}},
		{"asc nulls last", "SELECT Id FROM Account ORDER BY Industry ASC NULLS LAST", []string{"3", "1", "4", "2", "5"}},
		{"desc nulls first", "SELECT Id FROM Account ORDER BY Industry DESC NULLS FIRST", []string{"2", "5", "1", "4", "3"}},
		{"nulls first without direction", "SELECT Id FROM Account ORDER BY AnnualRevenue NULLS LAST", []string{"5", "2", "4", "1", "3"}},
		{"number desc is stable for ties", "SELECT Id FROM Account ORDER BY AnnualRevenue DESC", []string{"1", "2", "4", "5", "3"}},
		{"multiple keys", "SELECT Id FROM Account ORDER BY Industry DESC NULLS FIRST, AnnualRevenue ASC, Name DESC",
			[]string{"5", "2", "4", "1", "3"}},
		{"multiple keys with null second key", "SELECT Id FROM Account ORDER BY IsDeleted, AnnualRevenue DESC, Name",
			[]string{"1", "4", "3", "2", "5"}},
		{"datetime order is chronological", "SELECT Id FROM Account ORDER BY CreatedDate",
			[]string{"4", "2", "1", "3", "5"}},
		{"date order with nulls", "SELECT Id FROM Account ORDER BY LastActivityDate DESC, Id DESC",
			[]string{"4", "1", "5", "3", "2"}},
		{"order by id", "SELECT Id FROM Account ORDER BY Id DESC", []string{"5", "4", "3", "2", "1"}},
		{"limit", "SELECT Id FROM Account ORDER BY Name LIMIT 2", []string{"2", "4"}},
		{"offset", "SELECT Id FROM Account ORDER BY Name OFFSET 3", []string{"1", "5"}},
		{"limit and offset", "SELECT Id FROM Account ORDER BY Name LIMIT 2 OFFSET 1", []string{"4", "3"}},
		{"offset past end", "SELECT Id FROM Account OFFSET 10", []string{}},
		{"limit zero", "SELECT Id FROM Account LIMIT 0", []string{}},
		{"limit larger than result", "SELECT Id FROM Account WHERE Industry = 'tech' LIMIT 10", []string{"1", "4"}},
		{"filter then sort then page", "SELECT Id FROM Account WHERE AnnualRevenue >= 100 ORDER BY AnnualRevenue DESC, Name LIMIT 2 OFFSET 1",
			[]string{"2", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, true)
			if got := ids(q.Run(runRecords(), testNow)); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("ids = %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

func TestQuery_Run_Count(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		want        int
	}{
		{"all", "SELECT COUNT() FROM Account", 5},
		{"where", "SELECT COUNT() FROM Account WHERE Industry = 'Tech'", 2},
		{"none", "SELECT COUNT() FROM Account WHERE Name = 'nobody'", 0},
		{"limit caps count", "SELECT COUNT() FROM Account LIMIT 3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, true)
			got := q.Run(runRecords(), testNow)
			if !q.IsCount() || len(got) != tt.want {
				t.Fatalf("IsCount() = %v, len(Run) = %d; want true, %d", q.IsCount(), len(got), tt.want)
			}
			for _, r := range got {
				if len(r) != 1 || r["Id"] == nil {
					t.Errorf("counted record = %v, want only Id", r)
				}
			}
		})
	}
}

func TestQuery_Run_Projection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		recs        []map[string]any
		want        []map[string]any
	}{
		{"selected fields plus Id", "SELECT name, annualrevenue FROM Account WHERE Name = 'alpha'", runRecords(),
			[]map[string]any{{"Name": "Alpha", "AnnualRevenue": 100.0, "Id": "001000000000002AAA"}}},
		{"missing field is nil", "SELECT Name, Industry FROM Account", []map[string]any{{"Id": "001000000000009AAA", "Name": "x"}},
			[]map[string]any{{"Name": "x", "Industry": nil, "Id": "001000000000009AAA"}}},
		{"no Id in record", "SELECT Name FROM Account", []map[string]any{{"Name": "x"}},
			[]map[string]any{{"Name": "x"}}},
		{"empty input", "SELECT Name FROM Account", nil, []map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustParse(t, tt.query, true)
			if got := q.Run(tt.recs, testNow); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Run = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQuery_Run_DoesNotModifyInput(t *testing.T) {
	t.Parallel()
	recs := runRecords()
	orig := make([]map[string]any, len(recs))
	for i, r := range recs {
		orig[i] = maps.Clone(r)
	}
	q := mustParse(t, "SELECT Name FROM Account ORDER BY Name DESC LIMIT 2", true)
	out := q.Run(recs, testNow)
	out[0]["Name"] = "changed"
	if !reflect.DeepEqual(recs, orig) {
		t.Errorf("Run changed its input: %v", recs)
	}
}

func TestQuery_Run_Concurrent(t *testing.T) {
	t.Parallel()
	q := mustParse(t, "SELECT Id FROM Account WHERE Industry IN ('tech', 'energy') ORDER BY Name LIMIT 5", true)
	recs := runRecords()
	done := make(chan []string)
	for range 8 {
		go func() { done <- ids(q.Run(recs, testNow)) }()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, []string{"4", "3", "1"}) {
			t.Errorf("ids = %v", got)
		}
	}
}
