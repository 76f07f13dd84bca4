package salesforce

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	sfapi "github.com/sfconnect/sfconnect/salesforce"
)

// maxSOQLChars bounds one lookup query. Salesforce accepts SOQL of up to
// 100,000 characters, but a query travels in a URL (GET /query?q=, also
// inside /composite), and URLs above about 16 KB are refused by
// Salesforce's front end; 15,000 characters leave room for the escaping.
const maxSOQLChars = 15000

// systemFields are selected by every lookup: who changed the record last
// and when, for conflict resolution.
var systemFields = []string{"Id", "LastModifiedDate", "LastModifiedById"}

// lookupQuery is one SOQL query and how to key its rows.
type lookupQuery struct {
	soql   string
	object string
	by     string // "Id" or the external id field
}

// lookup reads the current state of the records of segs that need it, with
// as few queries as fit the length limit, packed up to five per /composite
// call. The result is keyed like change.key. A query refused for its
// fields (a mapped field that does not exist) is retried with the system
// fields only, so one bad mapping fails its own records at write time
// instead of the whole batch here.
func (s *Sink) lookup(ctx context.Context, segs []*segment) (map[string]*recordState, error) {
	if len(segs) == 0 {
		return map[string]*recordState{}, nil
	}
	out, err := s.lookupWith(ctx, segs, true)
	if err != nil && !connectorlib.IsRetryable(err) {
		out, err = s.lookupWith(ctx, segs, false)
	}
	return out, err
}

func (s *Sink) lookupWith(ctx context.Context, segs []*segment, full bool) (map[string]*recordState, error) {
	queries := buildLookups(segs, full)
	rows := make([][]map[string]any, len(queries))
	step := 1
	if s.cfg.Pack {
		step = sfapi.MaxCompositeCollections
	}
	for start := 0; start < len(queries); start += step {
		group := queries[start:min(start+step, len(queries))]
		if len(group) == 1 {
			var recs []map[string]any
			err := s.apiCall(ctx, apiQuery, 0, func(ctx context.Context) error {
				return s.rest.Query(ctx, group[0].soql, func(rec map[string]any) error {
					recs = append(recs, rec)
					return nil
				})
			})
			if err != nil {
				return nil, fmt.Errorf("look up %s records: %w", group[0].object, err)
			}
			rows[start] = recs
			continue
		}
		soqls := make([]string, len(group))
		for i, q := range group {
			soqls[i] = q.soql
		}
		var res [][]map[string]any
		err := s.apiCall(ctx, apiComposite, 0, func(ctx context.Context) error {
			var err error
			res, err = s.rest.CompositeQueries(ctx, soqls)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("look up records: %w", err)
		}
		copy(rows[start:], res)
	}
	out := map[string]*recordState{}
	for i, q := range queries {
		for _, rec := range rows[i] {
			st := &recordState{values: rec, full: full}
			st.id, _ = rec["Id"].(string)
			st.lastModifiedBy, _ = rec["LastModifiedById"].(string)
			if lm, ok := rec["LastModifiedDate"].(string); ok {
				st.lastModified, _ = parseSFTime(lm)
			}
			if q.by == "Id" {
				out[q.object+"\x00id\x00"+st.id] = st
			} else if v := rec[q.by]; v != nil {
				out[q.object+"\x00"+q.by+"\x00"+formatValue(v)] = st
			}
		}
	}
	return out, nil
}

// parseSFTime parses a Salesforce datetime (2026-11-23T10:00:00.000+0000).
func parseSFTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a Salesforce datetime: %q", v)
}

// buildLookups builds the lookup queries of segs: per object and match
// field, "SELECT <fields> FROM <object> WHERE <field> IN (...)" split so
// that no query exceeds maxSOQLChars.
func buildLookups(segs []*segment, full bool) []lookupQuery {
	type group struct {
		object, by string
		values     []string
		fields     map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	add := func(object, by, value string, c *segment) {
		k := object + "\x00" + by
		g := groups[k]
		if g == nil {
			g = &group{object: object, by: by, fields: map[string]bool{}}
			groups[k] = g
			order = append(order, k)
		}
		g.values = append(g.values, value)
		if full {
			for _, ch := range c.changes {
				for f := range ch.fields {
					g.fields[f] = true
				}
			}
		}
	}
	for _, seg := range segs {
		first := seg.changes[0]
		if first.id != "" {
			add(first.object, "Id", first.id, seg)
		} else {
			add(first.object, first.extField, first.extID, seg)
		}
	}
	var out []lookupQuery
	for _, k := range order {
		g := groups[k]
		sel := slices.Clone(systemFields)
		if g.by != "Id" {
			sel = append(sel, g.by)
		}
		extra := make([]string, 0, len(g.fields))
		for f := range g.fields {
			if !slices.ContainsFunc(sel, func(s string) bool { return strings.EqualFold(s, f) }) {
				extra = append(extra, f)
			}
		}
		slices.Sort(extra)
		sel = append(sel, extra...)
		head := "SELECT " + strings.Join(sel, ", ") + " FROM " + g.object + " WHERE " + g.by + " IN ("
		var b strings.Builder
		n := 0
		flush := func() {
			if n > 0 {
				out = append(out, lookupQuery{soql: head + b.String() + ")", object: g.object, by: g.by})
			}
			b.Reset()
			n = 0
		}
		for _, v := range g.values {
			lit := soqlString(v)
			if n > 0 && len(head)+b.Len()+len(lit)+2 > maxSOQLChars {
				flush()
			}
			if n > 0 {
				b.WriteString(",")
			}
			b.WriteString(lit)
			n++
		}
		flush()
	}
	return out
}

// soqlString quotes a SOQL string literal.
func soqlString(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(v) + "'"
}
