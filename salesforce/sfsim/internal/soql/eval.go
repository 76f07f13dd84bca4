package soql

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Match reports whether rec satisfies the WHERE clause (true without one).
// now is the clock for relative date literals such as TODAY; its location
// is the user's time zone. rec is keyed by canonical field name; values
// are string, bool, float64 (other Go numbers are accepted too) or nil,
// with dates as "YYYY-MM-DD" and datetimes as
// "YYYY-MM-DDTHH:MM:SS.000+0000". Match never modifies rec.
func (q *Query) Match(rec map[string]any, now time.Time) bool {
	return q.where == nil || q.where.eval(rec, now)
}

func (n *node) eval(rec map[string]any, now time.Time) bool {
	switch n.kind {
	case nodeAnd:
		for _, k := range n.kids {
			if !k.eval(rec, now) {
				return false
			}
		}
		return true
	case nodeOr:
		for _, k := range n.kids {
			if k.eval(rec, now) {
				return true
			}
		}
		return false
	case nodeNot:
		return !n.kids[0].eval(rec, now)
	}
	v := rec[n.field.name]
	switch n.op {
	case opIn:
		return n.in(v, now)
	case opNotIn:
		return !n.in(v, now)
	case opLike:
		s, ok := v.(string)
		return ok && s != "" && likeMatch(n.vals[0].folded, s)
	}
	return test(n.op, v, &n.vals[0], n.field.cls, now)
}

// in reports whether v equals one of the IN values.
func (n *node) in(v any, now time.Time) bool {
	if isNull(v) {
		for i := range n.inOther {
			if n.inOther[i].isNull() {
				return true
			}
		}
		return false
	}
	switch x := v.(type) {
	case string:
		if n.inStr[strKey(x, n.field.cls)] {
			return true
		}
	default:
		if f, ok := toFloat(v); ok && n.inNum[f] {
			return true
		}
	}
	for i := range n.inOther {
		if test(opEq, v, &n.inOther[i], n.field.cls, now) {
			return true
		}
	}
	return false
}

// index builds the IN lookup tables under n for its fields' current
// classes. It replaces the tables rather than changing them, because
// clones share them.
func (n *node) index() {
	if n == nil {
		return
	}
	for _, k := range n.kids {
		k.index()
	}
	if n.kind != nodeCmp || n.op != opIn && n.op != opNotIn {
		return
	}
	n.inStr, n.inNum, n.inOther = map[string]bool{}, map[float64]bool{}, nil
	for _, v := range n.vals {
		switch {
		case v.kind == litString && v.str != "":
			n.inStr[strKey(v.str, n.field.cls)] = true
		case v.kind == litNumber:
			n.inNum[v.num] = true
		default:
			n.inOther = append(n.inOther, v)
		}
	}
}

// isNull reports whether a record value is null. Salesforce stores empty
// text as null.
func isNull(v any) bool { return v == nil || v == "" }

// isNull reports whether a literal is null: null, or the empty string.
func (l *literal) isNull() bool { return l.kind == litNull || l.kind == litString && l.str == "" }

// test evaluates v op lit for a single value.
func test(op cmpOp, v any, lit *literal, cls fieldClass, now time.Time) bool {
	if lit.isNull() {
		switch op {
		case opEq:
			return isNull(v)
		case opNe:
			return !isNull(v)
		}
		return false
	}
	if isNull(v) {
		return op == opNe
	}
	var c int
	var ok bool
	if lit.kind == litRelative {
		c, ok = relPosition(v, lit.rel, cls, now)
	} else {
		c, ok = compare(v, lit, cls)
	}
	if !ok {
		return op == opNe
	}
	switch op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	}
	return false
}

// compare orders a non-null record value against a non-relative literal.
// ok is false when they cannot be compared (different types).
func compare(v any, lit *literal, cls fieldClass) (int, bool) {
	switch lit.kind {
	case litString:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		if cls == clsID {
			return strings.Compare(idKey(s), idKey(lit.str)), true
		}
		return foldCompare(s, lit.str), true
	case litNumber:
		f, ok := toFloat(v)
		if !ok {
			return 0, false
		}
		return cmpFloat(f, lit.num), true
	case litBool:
		b, ok := v.(bool)
		if !ok {
			return 0, false
		}
		return cmpBool(b, lit.b), true
	case litDate:
		day, ok := valueDay(v, cls)
		if !ok {
			return 0, false
		}
		return cmpInt(day, lit.day), true
	case litDateTime:
		t, ok := valueTime(v, cls)
		if !ok {
			return 0, false
		}
		return t.Compare(lit.t), true
	}
	return 0, false
}

// relPosition places v relative to a relative date literal's range:
// -1 before it, 0 inside, 1 after. Date values compare by calendar day;
// datetime values by instant, with the range's days starting at midnight
// in now's location.
func relPosition(v any, r relDate, cls fieldClass, now time.Time) (int, bool) {
	start, end := r.days(now)
	if day, ok := valueDay(v, cls); ok && (cls == clsDate || cls != clsDateTime && isDateOnly(v)) {
		switch {
		case day < start:
			return -1, true
		case day >= end:
			return 1, true
		}
		return 0, true
	}
	t, ok := valueTime(v, cls)
	if !ok {
		return 0, false
	}
	switch {
	case t.Before(dayTime(start, now.Location())):
		return -1, true
	case !t.Before(dayTime(end, now.Location())):
		return 1, true
	}
	return 0, true
}

func isDateOnly(v any) bool {
	s, ok := v.(string)
	return ok && len(s) == 10
}

// valueDay reads a date value as a day number. A datetime value (in an
// unbound query) counts as its UTC calendar day.
func valueDay(v any, cls fieldClass) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	if day, ok := parseDay(s); ok {
		return day, true
	}
	if cls == clsDate && len(s) > 10 {
		return parseDay(s[:10])
	}
	if t, ok := parseDateTime(s, false); ok {
		return dayOf(t.UTC()), true
	}
	return 0, false
}

// valueTime reads a datetime value as an instant. A date value counts as
// midnight UTC.
func valueTime(v any, cls fieldClass) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	if t, ok := parseDateTime(s, false); ok {
		return t, true
	}
	if day, ok := parseDay(s); ok {
		return dayTime(day, time.UTC), true
	}
	return time.Time{}, false
}

// toFloat reads a numeric record value.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// idKey is the comparable form of an id: its case-sensitive 15-character
// prefix, so an 18-character id equals its 15-character form.
func idKey(s string) string {
	if validID(s) {
		return s[:15]
	}
	return s
}

// strKey is the IN lookup key of a string for a field class.
func strKey(s string, cls fieldClass) string {
	if cls == clsID {
		return idKey(s)
	}
	return foldString(s)
}

// foldRune maps r to the smallest rune of its case-folding orbit, so two
// runes are equal under Unicode simple folding exactly when their
// foldRune values are equal.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

func foldString(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldCompare orders strings case-insensitively.
func foldCompare(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if c := cmpInt(int64(foldRune(ra)), int64(foldRune(rb))); c != 0 {
			return c
		}
		a, b = a[na:], b[nb:]
	}
	return cmpInt(int64(len(a)), int64(len(b)))
}

// likeMatch reports whether s matches a folded LIKE pattern as a whole,
// case-insensitively. It backtracks only to the last %, so it runs in
// O(len(pattern)*len(s)).
func likeMatch(pat []rune, s string) bool {
	str := make([]rune, 0, len(s))
	for _, r := range s {
		str = append(str, foldRune(r))
	}
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(str) {
		switch {
		case pi < len(pat) && (pat[pi] == anyOne || pat[pi] == str[si]):
			pi++
			si++
		case pi < len(pat) && pat[pi] == anyMany:
			star, mark = pi, si
			pi++
		case star >= 0:
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == anyMany {
		pi++
	}
	return pi == len(pat)
}
