package soql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDateTime
	tComma
	tLParen
	tRParen
	tColon
	tOp
)

// Wildcard runes in a compiled LIKE pattern. They are negative, so no
// literal character can collide with them.
const (
	anyOne  rune = -1 // _
	anyMany rune = -2 // %
)

// token is one lexeme of a query.
type token struct {
	kind tokKind
	text string // source text; "<EOF>" for tEOF
	pos  int    // byte offset in the query
	// pattern holds a tString's runes, with unescaped % and _ as anyMany
	// and anyOne.
	pattern []rune
	num     float64   // tNumber
	day     int64     // tDate: days since 1970-01-01
	t       time.Time // tDateTime
}

// lexer splits a query into tokens.
type lexer struct {
	q    string
	pos  int
	toks []token
}

// lex returns the tokens of q, ending with a tEOF token.
func lex(q string) ([]token, error) {
	l := &lexer{q: q}
	for {
		l.skipSpace()
		if l.pos >= len(q) {
			l.toks = append(l.toks, token{kind: tEOF, text: "<EOF>", pos: len(q)})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.q) {
		switch l.q[l.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			l.pos++
		default:
			return
		}
	}
}

func (l *lexer) emit(kind tokKind, start int) {
	l.toks = append(l.toks, token{kind: kind, text: l.q[start:l.pos], pos: start})
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

func (l *lexer) next() error {
	start := l.pos
	c := l.q[l.pos]
	switch {
	case c == ',':
		l.pos++
		l.emit(tComma, start)
	case c == '(':
		l.pos++
		l.emit(tLParen, start)
	case c == ')':
		l.pos++
		l.emit(tRParen, start)
	case c == ':':
		l.pos++
		l.emit(tColon, start)
	case c == '=':
		l.pos++
		l.emit(tOp, start)
	case c == '!':
		if !strings.HasPrefix(l.q[l.pos:], "!=") {
			return l.badChar()
		}
		l.pos += 2
		l.emit(tOp, start)
	case c == '<':
		l.pos++
		if l.pos < len(l.q) && (l.q[l.pos] == '=' || l.q[l.pos] == '>') {
			l.pos++
		}
		l.emit(tOp, start)
	case c == '>':
		l.pos++
		if l.pos < len(l.q) && l.q[l.pos] == '=' {
			l.pos++
		}
		l.emit(tOp, start)
	case c == '\'':
		return l.str()
	case isDigit(c):
		return l.numberOrDate()
	case (c == '-' || c == '+') && l.pos+1 < len(l.q) && isDigit(l.q[l.pos+1]):
		return l.number()
	case isIdentStart(c):
		l.ident()
	default:
		return l.badChar()
	}
	return nil
}

// badChar reports the character at l.pos, as Salesforce's lexer does.
func (l *lexer) badChar() error {
	r, _ := utf8.DecodeRuneInString(l.q[l.pos:])
	ch := string(r)
	if r == utf8.RuneError {
		ch = fmt.Sprintf("\\x%02x", l.q[l.pos])
	}
	row, col := rowCol(l.q, l.pos)
	return errAt(CodeMalformedQuery, l.q, l.pos,
		fmt.Sprintf("line %d:%d no viable alternative at character '%s'", row, col-1, ch))
}

// rowCol returns the 1-based row and column of byte offset pos.
func rowCol(q string, pos int) (row, col int) {
	lineStart := strings.LastIndexByte(q[:pos], '\n') + 1
	return 1 + strings.Count(q[:pos], "\n"), 1 + utf8.RuneCountInString(q[lineStart:pos])
}

// ident lexes a name, keeping dotted relationship paths (Owner.Name) as one
// token.
func (l *lexer) ident() {
	start := l.pos
	for {
		for l.pos < len(l.q) && isIdentChar(l.q[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.q) && l.q[l.pos] == '.' && isIdentStart(l.q[l.pos+1]) {
			l.pos++
			continue
		}
		break
	}
	l.emit(tIdent, start)
}

// str lexes a single-quoted string literal.
func (l *lexer) str() error {
	start := l.pos
	l.pos++ // opening quote
	var pat []rune
	for {
		if l.pos >= len(l.q) {
			row, col := rowCol(l.q, l.pos)
			return errAt(CodeMalformedQuery, l.q, start,
				fmt.Sprintf("line %d:%d mismatched character '<EOF>' expecting '''", row, col-1))
		}
		r, size := utf8.DecodeRuneInString(l.q[l.pos:])
		switch r {
		case '\'':
			l.pos++
			l.toks = append(l.toks, token{kind: tString, text: l.q[start:l.pos], pos: start, pattern: pat})
			return nil
		case '%':
			pat = append(pat, anyMany)
		case '_':
			pat = append(pat, anyOne)
		case '\\':
			esc, n, ok := escape(l.q[l.pos:])
			if !ok {
				seq := l.q[l.pos:min(len(l.q), l.pos+2)]
				end := strings.IndexByte(l.q[l.pos+1:], '\'')
				lit := l.q[start:]
				if end >= 0 {
					lit = l.q[start : l.pos+1+end+1]
				}
				return errAt(CodeMalformedQuery, l.q, start, "Invalid string literal "+lit+
					". Illegal character sequence '"+seq+"' in string literal.")
			}
			pat = append(pat, esc)
			l.pos += n
			continue
		default:
			pat = append(pat, r)
		}
		l.pos += size
	}
}

// escape decodes the backslash escape at the start of s; it returns the
// rune, the bytes consumed, and whether the escape is valid SOQL.
func escape(s string) (rune, int, bool) {
	if len(s) < 2 {
		return 0, 0, false
	}
	switch s[1] {
	case 'n':
		return '\n', 2, true
	case 'r':
		return '\r', 2, true
	case 't':
		return '\t', 2, true
	case 'b':
		return '\b', 2, true
	case 'f':
		return '\f', 2, true
	case '"', '\'', '\\', '%', '_':
		return rune(s[1]), 2, true
	case 'u':
		if len(s) < 6 {
			return 0, 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 32)
		if err != nil {
			return 0, 0, false
		}
		return rune(v), 6, true
	}
	return 0, 0, false
}

// number lexes [+-]digits[.digits].
func (l *lexer) number() error {
	start := l.pos
	if l.q[l.pos] == '-' || l.q[l.pos] == '+' {
		l.pos++
	}
	l.digits()
	if l.pos+1 < len(l.q) && l.q[l.pos] == '.' && isDigit(l.q[l.pos+1]) {
		l.pos++
		l.digits()
	}
	text := l.q[start:l.pos]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil { // only out-of-range numbers get here
		return errAt(CodeMalformedQuery, l.q, start, unexpectedDetail(text))
	}
	l.toks = append(l.toks, token{kind: tNumber, text: text, pos: start, num: f})
	return nil
}

func (l *lexer) digits() int {
	n := 0
	for l.pos < len(l.q) && isDigit(l.q[l.pos]) {
		l.pos++
		n++
	}
	return n
}

// numberOrDate lexes a number, a date (YYYY-MM-DD) or a datetime
// (YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)).
func (l *lexer) numberOrDate() error {
	start := l.pos
	rest := l.q[l.pos:]
	if len(rest) < 10 || !isDigits(rest[0:4]) || rest[4] != '-' || !isDigits(rest[5:7]) || rest[7] != '-' ||
		!isDigits(rest[8:10]) {
		return l.number()
	}
	end := 10
	if end < len(rest) && rest[end] == 'T' {
		end = datetimeEnd(rest)
		if end < 0 {
			return l.badDate(start, rest)
		}
		t, ok := parseDateTime(rest[:end], true)
		if !ok {
			return l.badDate(start, rest)
		}
		l.pos += end
		if l.pos < len(l.q) && (isIdentChar(l.q[l.pos]) || l.q[l.pos] == '.') {
			return l.badDate(start, rest)
		}
		l.toks = append(l.toks, token{kind: tDateTime, text: rest[:end], pos: start, t: t})
		return nil
	}
	day, ok := parseDay(rest[:10])
	l.pos += 10
	if !ok || l.pos < len(l.q) && (isIdentChar(l.q[l.pos]) || l.q[l.pos] == '.' || l.q[l.pos] == '-') {
		return l.badDate(start, rest)
	}
	l.toks = append(l.toks, token{kind: tDate, text: rest[:10], pos: start, day: day})
	return nil
}

// badDate reports a malformed date or datetime literal starting at start.
func (l *lexer) badDate(start int, rest string) error {
	n := 0
	for n < len(rest) && !strings.ContainsRune(" \t\r\n\f\v,()", rune(rest[n])) {
		n++
	}
	return errAt(CodeMalformedQuery, l.q, start, unexpectedDetail(rest[:n]))
}

// datetimeEnd returns the length of the datetime literal at the start of s
// (which begins with a valid YYYY-MM-DD and a 'T'), or -1 if it is
// malformed. It checks the shape only; parseDateTime checks the ranges.
func datetimeEnd(s string) int {
	i := 11 // after "YYYY-MM-DDT"
	if len(s) < i+8 || !isDigits(s[i:i+2]) || s[i+2] != ':' || !isDigits(s[i+3:i+5]) || s[i+5] != ':' ||
		!isDigits(s[i+6:i+8]) {
		return -1
	}
	i += 8
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(s) && s[i] == 'Z' {
		return i + 1
	}
	if i+6 <= len(s) && (s[i] == '+' || s[i] == '-') && isDigits(s[i+1:i+3]) && s[i+3] == ':' &&
		isDigits(s[i+4:i+6]) {
		return i + 6
	}
	return -1
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}
