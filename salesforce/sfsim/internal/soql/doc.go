// Package soql is sfsim's SOQL subset: it parses a query, binds it to an
// sObject describe, and evaluates it against the simulator's records.
//
// # Supported grammar
//
// Keywords are case-insensitive.
//
//	SELECT field[, field...] | COUNT()
//	FROM Object
//	[WHERE condition]
//	[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, ...]]
//	[LIMIT n]
//	[OFFSET n]
//
// A condition is a field expression, a parenthesized condition, NOT applied
// to either, or a list of them joined by AND or by OR. As in Salesforce,
// AND and OR cannot be mixed at one level without parentheses ("a AND b OR
// c" is MALFORMED_QUERY "unexpected token: 'OR'"; write "(a AND b) OR c"),
// and NOT may only start a condition ("a AND NOT b" is rejected; write
// "a AND (NOT b)"). "NOT a AND b" means "(NOT a) AND b".
//
// Field expressions: field = != <> < <= > >= value, field LIKE 'pattern',
// field IN (value, ...), field NOT IN (value, ...). Values: 'strings' with
// backslash escapes (\' \" \\ \n \r \t \b \f \uXXXX, and \% \_ for literal
// wildcards in LIKE), numbers, true, false, null, dates (2024-01-31),
// datetimes (2024-01-31T10:00:00Z, ...+01:00, ...-08:00, .000Z), and the
// relative date literals YESTERDAY, TODAY, TOMORROW, LAST_N_DAYS:n,
// NEXT_N_DAYS:n, LAST_MONTH, THIS_MONTH, NEXT_MONTH, LAST_YEAR, THIS_YEAR
// and NEXT_YEAR, evaluated against the clock passed to Match and Run (its
// location is the user's time zone).
//
// # Salesforce semantics kept
//
// String comparisons (=, !=, <, IN, LIKE, ORDER BY) are case-insensitive;
// Id and reference fields compare 15- and 18-character ids as equal. An
// empty string is null. A null field is != every non-null value and
// matches no ordering comparison or LIKE. Dates and datetimes compare
// chronologically. A relative date literal is a range: = means inside it,
// < before its start, > after its end. ORDER BY defaults to ASC NULLS FIRST
// and DESC NULLS LAST and is stable.
//
// # Not supported
//
// Relationship paths (Owner.Name) are rejected by Bind with INVALID_FIELD;
// a path qualified by the queried object's own name (Account.Name on
// Account) is accepted. Aggregates other than COUNT(), GROUP BY, HAVING,
// subqueries, semi-joins, TYPEOF, INCLUDES/EXCLUDES, FIELDS(), aliases,
// WITH, FOR VIEW and bind variables are rejected with MALFORMED_QUERY.
//
// # Errors
//
// Every error is an *Error whose Code is a Salesforce error code
// (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
// INVALID_QUERY_FILTER_OPERATOR, NUMBER_OUTSIDE_VALID_RANGE) and whose
// Message has Salesforce's shape: the query line, a caret, "ERROR at
// Row:r:Column:c", then the detail, for example "unexpected token: 'FORM'".
package soql
