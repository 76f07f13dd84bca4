package soql

import (
	"strconv"
	"strings"
	"time"
)

// Query is a parsed SOQL query. Parse returns it unbound: names are as
// written and values are compared by their dynamic types. Bind resolves
// names against a describe and checks values against field types. A Query
// is not safe for concurrent Bind; once bound, Match, Run and the accessors
// are read-only and safe for concurrent use.
type Query struct {
	text      string // the query as given to Parse, for error messages
	object    string
	objectPos int
	count     bool
	fields    []*fieldRef
	where     *node // nil without WHERE
	orderBy   []orderKey
	limit     int // -1 without LIMIT
	offset    int // -1 without OFFSET
	bound     bool
}

// fieldClass is how values of a field compare, derived from its type.
type fieldClass int

const (
	clsAny      fieldClass = iota // unbound or unknown type: compare by dynamic type
	clsString                     // text and picklists: case-insensitive
	clsID                         // id and reference: 15/18-character ids
	clsBool                       // boolean
	clsNumber                     // int, long, double, currency, percent
	clsDate                       // date: "YYYY-MM-DD"
	clsDateTime                   // datetime
	clsTime                       // time: not comparable by this package
	clsCompound                   // address, location: not filterable
)

// fieldRef is a field named in the query.
type fieldRef struct {
	name  string // as written, then canonical after Bind
	pos   int
	cls   fieldClass
	ftype string // describe type after Bind
	long  bool   // long text area: not filterable or sortable
}

// nodeKind is the kind of a WHERE node.
type nodeKind int

const (
	nodeCmp nodeKind = iota
	nodeAnd
	nodeOr
	nodeNot
)

// cmpOp is a field expression operator.
type cmpOp int

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opLike
	opIn
	opNotIn
)

var opText = [...]string{opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=", opLike: "LIKE",
	opIn: "IN", opNotIn: "NOT IN"}

// node is a WHERE condition: a field expression, or AND/OR/NOT over kids.
type node struct {
	kind  nodeKind
	kids  []*node
	field *fieldRef
	op    cmpOp
	opPos int
	vals  []literal // one value, or the IN list
	// inStr and inNum index the string and number values of an IN list
	// (keys from strKey and the numbers), so long id lists stay fast.
	inStr map[string]bool
	inNum map[float64]bool
	// inOther holds the IN values that are not indexed.
	inOther []literal
}

// litKind is the kind of a literal value.
type litKind int

const (
	litNull litKind = iota
	litString
	litNumber
	litBool
	litDate
	litDateTime
	litRelative
)

// literal is a value in a field expression.
type literal struct {
	kind    litKind
	text    string // source text (normalized for strings)
	pos     int
	str     string  // litString, with wildcards as the characters % and _
	pattern []rune  // litString: runes with anyOne/anyMany wildcards
	folded  []rune  // litString: pattern case-folded, for LIKE
	num     float64 // litNumber
	b       bool    // litBool
	day     int64   // litDate
	t       time.Time
	rel     relDate
}

// orderKey is one ORDER BY item.
type orderKey struct {
	field     *fieldRef
	desc      bool
	dirSet    bool // ASC or DESC was written
	nullsLast bool
	nullsSet  bool // NULLS FIRST or LAST was written
}

// Object returns the queried sObject name: as written before Bind,
// canonical after.
func (q *Query) Object() string { return q.object }

// Fields returns the selected field names in query order: as written
// before Bind, canonical after. It is empty for COUNT() queries.
func (q *Query) Fields() []string {
	out := make([]string, len(q.fields))
	for i, f := range q.fields {
		out[i] = f.name
	}
	return out
}

// IsCount reports whether the query is SELECT COUNT().
func (q *Query) IsCount() bool { return q.count }

// String renders the query in a canonical form that Parse accepts and that
// selects the same records. Keywords are upper case; names are canonical
// after Bind.
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.count {
		b.WriteString("COUNT()")
	}
	for i, f := range q.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
	}
	b.WriteString(" FROM ")
	b.WriteString(q.object)
	if q.where != nil {
		b.WriteString(" WHERE ")
		q.where.render(&b)
	}
	for i, k := range q.orderBy {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k.field.name)
		if k.dirSet {
			if k.desc {
				b.WriteString(" DESC")
			} else {
				b.WriteString(" ASC")
			}
		}
		if k.nullsSet {
			if k.nullsLast {
				b.WriteString(" NULLS LAST")
			} else {
				b.WriteString(" NULLS FIRST")
			}
		}
	}
	if q.limit >= 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(q.limit))
	}
	if q.offset >= 0 {
		b.WriteString(" OFFSET ")
		b.WriteString(strconv.Itoa(q.offset))
	}
	return b.String()
}

// render writes n in canonical form. Nested AND/OR groups are always
// parenthesized, and so is NOT unless it starts its condition, because
// SOQL allows NOT only there.
func (n *node) render(b *strings.Builder) {
	switch n.kind {
	case nodeAnd, nodeOr:
		sep := " AND "
		if n.kind == nodeOr {
			sep = " OR "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			if k.kind == nodeAnd || k.kind == nodeOr || k.kind == nodeNot && i > 0 {
				b.WriteString("(")
				k.render(b)
				b.WriteString(")")
			} else {
				k.render(b)
			}
		}
	case nodeNot:
		b.WriteString("NOT ")
		k := n.kids[0]
		if k.kind == nodeCmp {
			k.render(b)
		} else {
			b.WriteString("(")
			k.render(b)
			b.WriteString(")")
		}
	default:
		b.WriteString(n.field.name)
		b.WriteString(" ")
		b.WriteString(opText[n.op])
		b.WriteString(" ")
		if n.op == opIn || n.op == opNotIn {
			b.WriteString("(")
			for i, v := range n.vals {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(v.text)
			}
			b.WriteString(")")
		} else {
			b.WriteString(n.vals[0].text)
		}
	}
}

// quote renders a string literal's pattern as SOQL source.
func quote(pattern []rune) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range pattern {
		switch r {
		case anyOne:
			b.WriteByte('_')
		case anyMany:
			b.WriteByte('%')
		case '_', '%', '\'', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// clone returns a deep copy of q, so Bind can work on it and commit only
// on success.
func (q *Query) clone() *Query {
	c := *q
	c.fields = make([]*fieldRef, len(q.fields))
	for i, f := range q.fields {
		fc := *f
		c.fields[i] = &fc
	}
	c.where = q.where.clone()
	c.orderBy = make([]orderKey, len(q.orderBy))
	for i, k := range q.orderBy {
		fc := *k.field
		k.field = &fc
		c.orderBy[i] = k
	}
	return &c
}

func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := *n
	if n.field != nil {
		f := *n.field
		c.field = &f
	}
	c.kids = make([]*node, len(n.kids))
	for i, k := range n.kids {
		c.kids[i] = k.clone()
	}
	return &c
}
