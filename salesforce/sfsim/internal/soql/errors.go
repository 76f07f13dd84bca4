package soql

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Salesforce error codes returned in Error.Code.
const (
	// CodeMalformedQuery reports a syntax error or an unsupported construct.
	CodeMalformedQuery = "MALFORMED_QUERY"
	// CodeInvalidField reports an unknown field, a field that cannot be
	// filtered or sorted, or a value of the wrong type for a field.
	CodeInvalidField = "INVALID_FIELD"
	// CodeInvalidType reports an unknown or non-queryable sObject.
	CodeInvalidType = "INVALID_TYPE"
	// CodeInvalidQueryFilterOperator reports an operator a field does not
	// support, or a malformed id compared with an id field.
	CodeInvalidQueryFilterOperator = "INVALID_QUERY_FILTER_OPERATOR"
	// CodeNumberOutsideValidRange reports an OFFSET above 2000.
	CodeNumberOutsideValidRange = "NUMBER_OUTSIDE_VALID_RANGE"
)

// Error is a query error as Salesforce reports it. The REST layer returns
// it as [{"message": Message, "errorCode": Code}] with HTTP 400.
type Error struct {
	// Code is a Salesforce error code, one of the Code constants.
	Code string
	// Message is Salesforce-shaped: "\n<query line>\n<caret>\nERROR at
	// Row:r:Column:c\n<detail>".
	Message string
}

// Error returns "CODE: message", the way Salesforce clients print it.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errAt builds an Error pointing at byte offset pos of query q, formatted
// like Salesforce's query errors.
func errAt(code, q string, pos int, detail string) *Error {
	pos = max(0, min(pos, len(q)))
	lineStart := strings.LastIndexByte(q[:pos], '\n') + 1
	lineEnd := len(q)
	if i := strings.IndexByte(q[pos:], '\n'); i >= 0 {
		lineEnd = pos + i
	}
	row := 1 + strings.Count(q[:pos], "\n")
	col := 1 + utf8.RuneCountInString(q[lineStart:pos])
	line := strings.TrimRight(q[lineStart:lineEnd], "\r")
	var b strings.Builder
	b.WriteString("\n")
	b.WriteString(line)
	b.WriteString("\n")
	b.WriteString(strings.Repeat(" ", col-1))
	b.WriteString("^\nERROR at Row:")
	b.WriteString(strconv.Itoa(row))
	b.WriteString(":Column:")
	b.WriteString(strconv.Itoa(col))
	b.WriteString("\n")
	b.WriteString(detail)
	return &Error{Code: code, Message: b.String()}
}

// unexpectedDetail is Salesforce's syntax error detail for a token.
func unexpectedDetail(text string) string {
	return "unexpected token: '" + text + "'"
}

// noSuchColumn is Salesforce's INVALID_FIELD detail for an unknown field.
func noSuchColumn(field, object string) string {
	return "No such column '" + field + "' on entity '" + object + "'. If you are attempting to use a custom field, " +
		"be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call " +
		"for the appropriate names."
}

// notSupportedType is Salesforce's INVALID_TYPE detail for an unknown object.
func notSupportedType(object string) string {
	return "sObject type '" + object + "' is not supported. If you are attempting to use a custom object, be sure " +
		"to append the '__c' after the entity name. Please reference your WSDL or the describe call for the " +
		"appropriate names."
}
