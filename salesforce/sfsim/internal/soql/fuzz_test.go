package soql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary text to Parse, which must return an *Error or
// a Query and never panic; a Query must survive String, Bind, Match and
// Run. The same bytes also drive a generator of valid queries in
// canonical form, which must parse and render back to the same text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT Id FROM Account",
		"SELECT Id FORM Account",
		"SELECT COUNT() FROM Account WHERE IsDeleted = false",
		"select id, name from account where (name like 'a\\%b_%' or industry in ('x', null)) and annualrevenue >= -1.5 " +
			"order by name desc nulls first, id limit 10 offset 5",
		"SELECT Id FROM Account WHERE NOT CreatedDate > 2024-01-31T10:00:00.000+01:00 AND LastActivityDate = LAST_N_DAYS:30",
		"SELECT Id FROM Account WHERE Name = 'O\\'Brien \\u00e9 \\n'",
		"SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3",
		"SELECT Id FROM Account WHERE Id IN ('001000000000001AAA', '001000000000002')",
		"SELECT Id FROM Account WHERE ((((a = 1))))",
		"SELECT Id FROM Account WHERE Name = 'unterminated",
		"SELECT Id FROM Account WHERE d = 2024-02-30",
		"\x00\xff'\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || !strings.Contains(e.Message, "\nERROR at Row:") {
				t.Fatalf("Parse(%q) error %v (%T) is not a positioned *Error", s, err, err)
			}
		} else {
			exercise(t, q)
		}

		text := (&gen{data: []byte(s)}).query()
		g, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(generated %q): %v", text, err)
		}
		if g.String() != text {
			t.Fatalf("generated query did not round-trip:\n%s\n%s", text, g.String())
		}
		exercise(t, g)
	})
}

// exercise checks that String round-trips and that Bind, Match and Run
// run without panicking, bound or not.
func exercise(t *testing.T, q *Query) {
	t.Helper()
	s := q.String()
	again, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(String() = %q): %v", s, err)
	}
	if again.String() != s {
		t.Fatalf("String() not stable:\n%s\n%s", s, again.String())
	}
	recs := fuzzRecords()
	for _, now := range []time.Time{testNow, {}, testNow.In(time.FixedZone("", 14*3600))} {
		q.Run(recs, now)
	}
	if err := q.Bind(accountDescribe()); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Bind error %v (%T) is not an *Error", err, err)
		}
		return
	}
	if _, err := Parse(q.String()); err != nil {
		t.Fatalf("Parse(bound String() = %q): %v", q.String(), err)
	}
	got := q.Run(recs, testNow)
	n := 0
	for _, r := range recs {
		if q.Match(r, testNow) {
			n++
		}
	}
	if len(got) > n {
		t.Fatalf("Run returned %d records, but only %d match", len(got), n)
	}
}

// fuzzRecords mixes well-formed records with values of unexpected types.
func fuzzRecords() []map[string]any {
	return []map[string]any{
		rec("Id", "001000000000001AAA", "Name", "Acme", "Industry", "Tech", "AnnualRevenue", 10.0, "IsDeleted", false,
			"CreatedDate", "2024-03-15T10:00:00.000+0000", "LastActivityDate", "2024-03-14", "Tags__c", "a;b"),
		rec("Id", "001000000000002", "Name", "", "Industry", nil, "AnnualRevenue", -1, "IsDeleted", true,
			"CreatedDate", "2024-03-15", "LastActivityDate", "2024-03-14T23:00:00Z"),
		rec("Id", 3.0, "Name", 5.0, "Industry", true, "AnnualRevenue", "ten", "IsDeleted", "no",
			"CreatedDate", "not a date", "LastActivityDate", []any{1}, "Description", map[string]any{"x": 1}),
		{},
	}
}

// gen generates canonical queries from fuzz bytes; exhausted input reads
// as zeros, so every input yields a finite query.
type gen struct {
	data []byte
	i    int
}

func (g *gen) byte() int {
	if g.i >= len(g.data) {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return int(b)
}

func (g *gen) pick(n int) int { return g.byte() % n }

func (g *gen) pickOf(options ...string) string { return options[g.pick(len(options))] }

var genFields = []string{"Id", "Name", "industry", "AnnualRevenue", "NumberOfEmployees", "IsDeleted", "CreatedDate",
	"LastActivityDate", "OwnerId", "Tags__c", "Account.Name", "Owner.Name", "Foo__c"}

func (g *gen) field() string { return genFields[g.pick(len(genFields))] }

func (g *gen) query() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if g.pick(6) == 0 {
		b.WriteString("COUNT()")
	} else {
		for i, n := 0, 1+g.pick(3); i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(g.field())
		}
	}
	b.WriteString(" FROM ")
	b.WriteString(g.pickOf("Account", "account", "Contact", "Order"))
	if g.pick(4) != 0 {
		b.WriteString(" WHERE ")
		b.WriteString(g.cond(0))
	}
	if n := g.pick(4); n > 0 {
		b.WriteString(" ORDER BY ")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(g.field())
			b.WriteString(g.pickOf("", " ASC", " DESC"))
			b.WriteString(g.pickOf("", " NULLS FIRST", " NULLS LAST"))
		}
	}
	if g.pick(2) == 0 {
		fmt.Fprintf(&b, " LIMIT %d", g.byte()*g.byte())
	}
	if g.pick(3) == 0 {
		fmt.Fprintf(&b, " OFFSET %d", (g.byte()*g.byte())%2001)
	}
	return b.String()
}

// cond generates a condition in canonical form.
func (g *gen) cond(depth int) string {
	switch g.pick(4) {
	case 1, 2:
		if depth <= 3 {
			return g.group(depth)
		}
	case 3:
		return g.not()
	}
	return g.cmp()
}

// group generates two to four operands joined by AND or by OR. Operands
// that are groups are parenthesized, and so is NOT unless it comes first.
func (g *gen) group(depth int) string {
	sep := g.pickOf(" AND ", " OR ")
	parts := make([]string, 2+g.pick(3))
	for i := range parts {
		switch g.pick(3) {
		case 0:
			if depth <= 3 {
				parts[i] = "(" + g.group(depth+1) + ")"
			} else {
				parts[i] = g.cmp()
			}
		case 1:
			if i == 0 {
				parts[i] = g.not()
			} else {
				parts[i] = "(" + g.not() + ")"
			}
		default:
			parts[i] = g.cmp()
		}
	}
	return strings.Join(parts, sep)
}

func (g *gen) not() string {
	if g.pick(2) == 0 {
		return "NOT " + g.cmp()
	}
	// The kid must be a group for the parentheses to be canonical.
	sep := g.pickOf(" AND ", " OR ")
	return "NOT (" + g.cmp() + sep + g.cmp() + ")"
}

func (g *gen) cmp() string {
	f := g.field()
	switch g.pick(5) {
	case 0:
		return f + " LIKE " + g.str()
	case 1:
		op := g.pickOf("IN", "NOT IN")
		vals := make([]string, 1+g.pick(4))
		for i := range vals {
			vals[i] = g.value()
		}
		return f + " " + op + " (" + strings.Join(vals, ", ") + ")"
	}
	return f + " " + g.pickOf("=", "!=", "<", "<=", ">", ">=") + " " + g.value()
}

func (g *gen) value() string {
	switch g.pick(8) {
	case 0:
		return g.pickOf("null", "true", "false")
	case 1:
		return g.pickOf("0", "-1.5", "+7", "42", "3.25", "1000000")
	case 2:
		return fmt.Sprintf("%04d-%02d-%02d", 1990+g.pick(50), 1+g.pick(12), 1+g.pick(28))
	case 3:
		t := time.Date(1990+g.pick(50), time.Month(1+g.pick(12)), 1+g.pick(28), g.pick(24), g.pick(60), g.pick(60), 0, time.UTC)
		return t.Format("2006-01-02T15:04:05") + g.pickOf("Z", ".000Z", "+01:00", "-08:00", ".5+05:30")
	case 4:
		if name := g.pickOf("LAST_N_DAYS", "NEXT_N_DAYS", "TODAY", "YESTERDAY", "THIS_MONTH"); strings.HasSuffix(name, "_DAYS") {
			return fmt.Sprintf("%s:%d", name, g.byte())
		} else {
			return name
		}
	case 5:
		return "'" + fmt.Sprintf("001%012d", g.byte()) + g.pickOf("", "AAA") + "'"
	}
	return g.str()
}

// str generates a string literal exactly as quote renders it.
func (g *gen) str() string {
	alphabet := []string{"a", "B", "z", " ", "é", "日", `\'`, `\\`, `\n`, `\t`, `\%`, `\_`, "%", "_", `"`, ";"}
	var b strings.Builder
	b.WriteByte('\'')
	for range g.pick(8) {
		b.WriteString(alphabet[g.pick(len(alphabet))])
	}
	b.WriteByte('\'')
	return b.String()
}
