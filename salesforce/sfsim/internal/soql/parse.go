package soql

import (
	"strconv"
	"strings"
)

// maxDepth bounds parenthesis nesting so hostile input cannot exhaust the
// stack; real queries nest a handful of levels.
const maxDepth = 100

// maxOffset is Salesforce's OFFSET limit.
const maxOffset = 2000

// reserved words cannot name a field in SELECT, WHERE or ORDER BY.
var reserved = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "SELECT": true, "FROM": true, "WHERE": true, "ORDER": true,
	"LIMIT": true, "OFFSET": true, "NULL": true, "TRUE": true, "FALSE": true, "IN": true, "LIKE": true,
	"GROUP": true, "HAVING": true, "WITH": true, "USING": true, "TYPEOF": true, "INCLUDES": true,
	"EXCLUDES": true, "NULLS": true, "BY": true, "ASC": true, "DESC": true,
}

// unsupported names the SOQL features this package rejects; the note is
// appended to the syntax error so users know sfsim, not their query, is
// the limit.
var unsupported = map[string]string{
	"GROUP":    "GROUP BY",
	"HAVING":   "HAVING",
	"WITH":     "WITH clauses",
	"USING":    "USING SCOPE",
	"FOR":      "FOR VIEW/REFERENCE/UPDATE",
	"UPDATE":   "UPDATE TRACKING/VIEWSTAT",
	"TYPEOF":   "TYPEOF",
	"INCLUDES": "INCLUDES",
	"EXCLUDES": "EXCLUDES",
}

// parser is a recursive-descent parser over the token list.
type parser struct {
	q     string
	toks  []token
	i     int
	depth int
}

// Parse parses a SOQL query. Errors are *Error with Code MALFORMED_QUERY
// (or NUMBER_OUTSIDE_VALID_RANGE for OFFSET above 2000). Parse never
// panics, whatever the input.
func Parse(q string) (*Query, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{q: q, toks: toks}
	query, err := p.query()
	if err != nil {
		return nil, err
	}
	query.text = q
	query.where.index()
	return query, nil
}

func (p *parser) peek() *token { return &p.toks[p.i] }

func (p *parser) next() *token {
	t := &p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// kw reports whether t is the keyword word (upper case).
func kw(t *token, word string) bool { return t.kind == tIdent && strings.EqualFold(t.text, word) }

// unexpected reports t as Salesforce does, naming the unsupported feature
// when t starts one.
func (p *parser) unexpected(t *token) error {
	detail := unexpectedDetail(t.text)
	if t.kind == tIdent {
		if what, ok := unsupported[strings.ToUpper(t.text)]; ok {
			detail += " (sfsim does not support " + what + ")"
		}
	}
	return errAt(CodeMalformedQuery, p.q, t.pos, detail)
}

func (p *parser) expect(kind tokKind) (*token, error) {
	t := p.next()
	if t.kind != kind {
		return nil, p.unexpected(t)
	}
	return t, nil
}

func (p *parser) expectKW(word string) error {
	if t := p.next(); !kw(t, word) {
		return p.unexpected(t)
	}
	return nil
}

// unsupportedAt reports an unsupported construct at t.
func (p *parser) unsupportedAt(t *token, what string) error {
	return errAt(CodeMalformedQuery, p.q, t.pos, unexpectedDetail(t.text)+" (sfsim does not support "+what+")")
}

func (p *parser) query() (*Query, error) {
	q := &Query{limit: -1, offset: -1}
	if err := p.expectKW("SELECT"); err != nil {
		return nil, err
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if err := p.expectKW("FROM"); err != nil {
		return nil, err
	}
	obj, err := p.expect(tIdent)
	if err != nil {
		return nil, err
	}
	if strings.Contains(obj.text, ".") {
		return nil, p.unexpected(obj)
	}
	q.object, q.objectPos = obj.text, obj.pos
	if kw(p.peek(), "WHERE") {
		p.next()
		if q.where, err = p.condition(); err != nil {
			return nil, err
		}
	}
	if kw(p.peek(), "ORDER") {
		p.next()
		if err := p.expectKW("BY"); err != nil {
			return nil, err
		}
		if err := p.orderBy(q); err != nil {
			return nil, err
		}
	}
	if kw(p.peek(), "LIMIT") {
		p.next()
		if q.limit, _, err = p.count(); err != nil {
			return nil, err
		}
	}
	if kw(p.peek(), "OFFSET") {
		p.next()
		n, pos, err := p.count()
		if err != nil {
			return nil, err
		}
		if n > maxOffset {
			return nil, errAt(CodeNumberOutsideValidRange, p.q, pos, "Maximum SOQL offset allowed is 2000")
		}
		q.offset = n
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return q, nil
}

// selectList parses COUNT() or a list of field names.
func (p *parser) selectList(q *Query) error {
	t := p.peek()
	if kw(t, "COUNT") && p.toks[p.i+1].kind == tLParen {
		p.next()
		p.next()
		if r := p.next(); r.kind != tRParen {
			return p.unsupportedAt(r, "aggregate functions other than COUNT()")
		}
		q.count = true
		return nil
	}
	for {
		t := p.next()
		if t.kind == tLParen {
			return p.unsupportedAt(t, "subqueries")
		}
		if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
			return p.unexpected(t)
		}
		if p.peek().kind == tLParen {
			return p.unsupportedAt(t, "functions in SELECT")
		}
		q.fields = append(q.fields, &fieldRef{name: t.text, pos: t.pos})
		if p.peek().kind != tComma {
			return nil
		}
		p.next()
	}
}

// count parses the non-negative integer after LIMIT or OFFSET.
func (p *parser) count() (int, int, error) {
	t := p.next()
	if t.kind != tNumber || !isDigits(t.text) {
		return 0, 0, p.unexpected(t)
	}
	n, err := strconv.ParseInt(t.text, 10, 32)
	if err != nil {
		return 0, 0, errAt(CodeNumberOutsideValidRange, p.q, t.pos, "number out of range: "+t.text)
	}
	return int(n), t.pos, nil
}

// orderBy parses the items after ORDER BY.
func (p *parser) orderBy(q *Query) error {
	for {
		t := p.next()
		if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
			return p.unexpected(t)
		}
		if p.peek().kind == tLParen {
			return p.unsupportedAt(t, "functions in ORDER BY")
		}
		k := orderKey{field: &fieldRef{name: t.text, pos: t.pos}}
		switch n := p.peek(); {
		case kw(n, "ASC"):
			p.next()
			k.dirSet = true
		case kw(n, "DESC"):
			p.next()
			k.dirSet, k.desc = true, true
		}
		if kw(p.peek(), "NULLS") {
			p.next()
			switch n := p.next(); {
			case kw(n, "FIRST"):
			case kw(n, "LAST"):
				k.nullsLast = true
			default:
				return p.unexpected(n)
			}
			k.nullsSet = true
		} else {
			k.nullsLast = k.desc
		}
		q.orderBy = append(q.orderBy, k)
		if p.peek().kind != tComma {
			return nil
		}
		p.next()
	}
}

// condition parses NOT? operand, then either AND operands or OR operands.
// Salesforce rejects AND and OR mixed at one level, and NOT anywhere but
// first; both come out as "unexpected token".
func (p *parser) condition() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		t := p.peek()
		return nil, errAt(CodeMalformedQuery, p.q, t.pos,
			unexpectedDetail(t.text)+" (sfsim allows at most 100 nested parentheses)")
	}
	first, err := p.operand(true)
	if err != nil {
		return nil, err
	}
	var kind nodeKind
	var word, other string
	switch t := p.peek(); {
	case kw(t, "AND"):
		kind, word, other = nodeAnd, "AND", "OR"
	case kw(t, "OR"):
		kind, word, other = nodeOr, "OR", "AND"
	default:
		return first, nil
	}
	n := &node{kind: kind, kids: []*node{first}}
	for kw(p.peek(), word) {
		p.next()
		k, err := p.operand(false)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	if t := p.peek(); kw(t, other) {
		return nil, p.unexpected(t)
	}
	return n, nil
}

// operand parses [NOT] (condition) or [NOT] field expression.
func (p *parser) operand(allowNot bool) (*node, error) {
	if t := p.peek(); kw(t, "NOT") {
		if !allowNot {
			return nil, p.unexpected(t)
		}
		p.next()
		k, err := p.operand(false)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeNot, kids: []*node{k}}, nil
	}
	if p.peek().kind == tLParen {
		p.next()
		c, err := p.condition()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return c, nil
	}
	return p.fieldExpr()
}

var ops = map[string]cmpOp{"=": opEq, "!=": opNe, "<>": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

// fieldExpr parses field op value, field [NOT] IN (values), or field LIKE
// 'pattern'.
func (p *parser) fieldExpr() (*node, error) {
	f := p.next()
	if f.kind != tIdent || reserved[strings.ToUpper(f.text)] {
		return nil, p.unexpected(f)
	}
	if p.peek().kind == tLParen {
		return nil, p.unsupportedAt(f, "functions in WHERE")
	}
	n := &node{kind: nodeCmp, field: &fieldRef{name: f.text, pos: f.pos}}
	t := p.next()
	n.opPos = t.pos
	switch {
	case t.kind == tOp:
		n.op = ops[t.text]
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.vals = []literal{v}
	case kw(t, "LIKE"):
		n.op = opLike
		v := p.next()
		if v.kind != tString {
			return nil, p.unexpected(v)
		}
		n.vals = []literal{stringLit(v)}
	case kw(t, "IN"):
		n.op = opIn
		return n, p.inList(n)
	case kw(t, "NOT"):
		if err := p.expectKW("IN"); err != nil {
			return nil, err
		}
		n.op = opNotIn
		return n, p.inList(n)
	default:
		return nil, p.unexpected(t)
	}
	return n, nil
}

// inList parses (value, ...) after IN or NOT IN.
func (p *parser) inList(n *node) error {
	if _, err := p.expect(tLParen); err != nil {
		return err
	}
	if t := p.peek(); kw(t, "SELECT") {
		return p.unsupportedAt(t, "semi-join sub-selects")
	}
	for {
		v, err := p.value()
		if err != nil {
			return err
		}
		n.vals = append(n.vals, v)
		t := p.next()
		if t.kind == tRParen {
			return nil
		}
		if t.kind != tComma {
			return p.unexpected(t)
		}
	}
}

func stringLit(t *token) literal {
	str := make([]rune, len(t.pattern))
	folded := make([]rune, len(t.pattern))
	for i, r := range t.pattern {
		switch r {
		case anyOne:
			str[i], folded[i] = '_', anyOne
		case anyMany:
			str[i], folded[i] = '%', anyMany
		default:
			str[i], folded[i] = r, foldRune(r)
		}
	}
	return literal{kind: litString, text: quote(t.pattern), pos: t.pos, str: string(str), pattern: t.pattern,
		folded: folded}
}

// value parses a literal value.
func (p *parser) value() (literal, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return stringLit(t), nil
	case tNumber:
		return literal{kind: litNumber, text: t.text, pos: t.pos, num: t.num}, nil
	case tDate:
		return literal{kind: litDate, text: formatDay(t.day), pos: t.pos, day: t.day}, nil
	case tDateTime:
		return literal{kind: litDateTime, text: t.text, pos: t.pos, t: t.t}, nil
	case tColon:
		return literal{}, errAt(CodeMalformedQuery, p.q, t.pos, "Bind variables only allowed in Apex code")
	case tIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "NULL":
			return literal{kind: litNull, text: "null", pos: t.pos}, nil
		case "TRUE", "FALSE":
			return literal{kind: litBool, text: strings.ToLower(up), pos: t.pos, b: up == "TRUE"}, nil
		}
		takesN, ok := relNames[up]
		if !ok {
			return literal{}, p.unexpected(t)
		}
		lit := literal{kind: litRelative, text: up, pos: t.pos, rel: relDate{name: up}}
		if takesN {
			if _, err := p.expect(tColon); err != nil {
				return literal{}, err
			}
			nt := p.next()
			if nt.kind != tNumber || !isDigits(nt.text) {
				return literal{}, p.unexpected(nt)
			}
			n, err := strconv.Atoi(nt.text)
			if err != nil || n > maxRelN {
				return literal{}, errAt(CodeNumberOutsideValidRange, p.q, nt.pos, "number out of range: "+nt.text)
			}
			lit.rel.n = n
			lit.text = up + ":" + strconv.Itoa(n)
		}
		return lit, nil
	}
	return literal{}, p.unexpected(t)
}
