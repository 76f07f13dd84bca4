package soql

import (
	"slices"
	"strings"
	"time"
)

// Run evaluates the query over recs: it keeps the records Match accepts,
// sorts them stably by ORDER BY (ASC NULLS FIRST and DESC NULLS LAST by
// default, as in Salesforce), skips OFFSET records, keeps at most LIMIT,
// and projects each to the selected fields. A projected record holds every
// selected field (nil when the record lacks it) plus "Id" when the source
// record has one, for the REST layer's attributes.url; serialize the
// fields in Fields() order. For COUNT() the result holds the counted
// records projected to "Id" only: the count is its length.
//
// Run never modifies recs or their maps; the result holds new maps.
func (q *Query) Run(recs []map[string]any, now time.Time) []map[string]any {
	var hits []map[string]any
	for _, r := range recs {
		if q.Match(r, now) {
			hits = append(hits, r)
		}
	}
	if len(q.orderBy) > 0 {
		hits = q.sort(hits)
	}
	if q.offset > 0 {
		hits = hits[min(q.offset, len(hits)):]
	}
	if q.limit >= 0 && len(hits) > q.limit {
		hits = hits[:q.limit]
	}
	out := make([]map[string]any, len(hits))
	for i, r := range hits {
		p := make(map[string]any, len(q.fields)+1)
		for _, f := range q.fields {
			p[f.name] = r[f.name]
		}
		if id, ok := r["Id"]; ok {
			p["Id"] = id
		}
		out[i] = p
	}
	return out
}

// sortKind ranks sort values of different types; it only matters for
// unbound queries over fields holding mixed types.
type sortKind int

const (
	sortNull sortKind = iota
	sortBool
	sortNumber
	sortTime
	sortString
)

// sortVal is a record value prepared for ordering.
type sortVal struct {
	kind sortKind
	b    bool
	f    float64
	t    time.Time
	s    string // folded, or an id key
}

// sortValue prepares v, read from a field of class cls.
func sortValue(v any, cls fieldClass) sortVal {
	if isNull(v) {
		return sortVal{kind: sortNull}
	}
	if b, ok := v.(bool); ok {
		return sortVal{kind: sortBool, b: b}
	}
	if f, ok := toFloat(v); ok {
		return sortVal{kind: sortNumber, f: f}
	}
	s, ok := v.(string)
	if !ok {
		return sortVal{kind: sortNull}
	}
	switch cls {
	case clsID:
		return sortVal{kind: sortString, s: idKey(s)}
	case clsDate:
		if day, ok := valueDay(s, cls); ok {
			return sortVal{kind: sortTime, t: dayTime(day, time.UTC)}
		}
	case clsDateTime, clsAny:
		if t, ok := valueTime(s, cls); ok {
			return sortVal{kind: sortTime, t: t}
		}
	}
	return sortVal{kind: sortString, s: foldString(s)}
}

// cmpSort orders two non-null sort values.
func cmpSort(a, b sortVal) int {
	if a.kind != b.kind {
		return cmpInt(int64(a.kind), int64(b.kind))
	}
	switch a.kind {
	case sortBool:
		return cmpBool(a.b, b.b)
	case sortNumber:
		return cmpFloat(a.f, b.f)
	case sortTime:
		return a.t.Compare(b.t)
	}
	return strings.Compare(a.s, b.s)
}

// sort returns recs ordered by the ORDER BY keys, stably.
func (q *Query) sort(recs []map[string]any) []map[string]any {
	type row struct {
		rec  map[string]any
		keys []sortVal
	}
	rows := make([]row, len(recs))
	for i, r := range recs {
		keys := make([]sortVal, len(q.orderBy))
		for j, k := range q.orderBy {
			keys[j] = sortValue(r[k.field.name], k.field.cls)
		}
		rows[i] = row{rec: r, keys: keys}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		for j, k := range q.orderBy {
			x, y := a.keys[j], b.keys[j]
			xn, yn := x.kind == sortNull, y.kind == sortNull
			var c int
			switch {
			case xn && yn:
				c = 0
			case xn || yn:
				// Nulls go first or last whatever the direction.
				c = -1
				if xn == k.nullsLast {
					c = 1
				}
			default:
				c = cmpSort(x, y)
				if k.desc {
					c = -c
				}
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = r.rec
	}
	return out
}
