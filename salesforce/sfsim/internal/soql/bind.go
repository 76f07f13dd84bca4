package soql

import (
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
)

// longTextLength is the largest textarea that is still a plain text area;
// longer ones are long text areas, which SOQL cannot filter or sort by.
const longTextLength = 255

// Bind resolves the query against d, the describe of the queried object:
// the object and field names become canonical (matched
// case-insensitively), and every WHERE value is checked against its
// field's type. d == nil means the object does not exist.
//
// Errors, each an *Error:
//   - INVALID_TYPE: d is nil, is not the queried object, or is not
//     queryable;
//   - INVALID_FIELD: an unknown field, a relationship path (unsupported by
//     sfsim), a value of the wrong type, or a field that cannot be
//     filtered or sorted;
//   - INVALID_QUERY_FILTER_OPERATOR: LIKE on an id or multi-select field,
//     ordering operators on a multi-select field, or a malformed id;
//   - MALFORMED_QUERY: a field selected twice.
//
// On error the query is left unchanged. Binding again to another describe
// is allowed.
func (q *Query) Bind(d *salesforce.SObjectDescribe) error {
	if d == nil || !strings.EqualFold(d.Name, q.object) || !d.Queryable {
		return errAt(CodeInvalidType, q.text, q.objectPos, notSupportedType(q.object))
	}
	b := q.clone()
	b.object = d.Name
	seen := make(map[string]bool, len(b.fields))
	for _, f := range b.fields {
		if err := b.resolve(d, f); err != nil {
			return err
		}
		if seen[f.name] {
			return errAt(CodeMalformedQuery, q.text, f.pos, "duplicate field selected: "+f.name)
		}
		seen[f.name] = true
	}
	if err := b.bindNode(d, b.where); err != nil {
		return err
	}
	for _, k := range b.orderBy {
		if err := b.resolve(d, k.field); err != nil {
			return err
		}
		if f := k.field; f.cls == clsCompound || f.long || f.ftype == "multipicklist" {
			return errAt(CodeInvalidField, q.text, f.pos, "field '"+f.name+"' can not be sorted in a query call")
		}
	}
	b.where.index()
	b.bound = true
	*q = *b
	return nil
}

// resolve makes f's name canonical and records its type.
func (q *Query) resolve(d *salesforce.SObjectDescribe, f *fieldRef) error {
	name := f.name
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		// A path qualified by the queried object itself is a plain field.
		if !strings.EqualFold(name[:dot], d.Name) || strings.Contains(name[dot+1:], ".") {
			return errAt(CodeInvalidField, q.text, f.pos, "Relationship field path '"+f.name+
				"' is not supported by sfsim: query fields of '"+d.Name+"' itself (for example an Id reference "+
				"field) and look related records up separately.")
		}
		name = name[dot+1:]
	}
	df, ok := d.Field(name)
	switch {
	case ok:
		f.name, f.ftype = df.Name, df.Type
		f.long = df.Type == "textarea" && df.Length > longTextLength
	case strings.EqualFold(name, "Id"):
		f.name, f.ftype = "Id", "id"
	default:
		return errAt(CodeInvalidField, q.text, f.pos, noSuchColumn(name, d.Name))
	}
	f.cls = classOf(f.ftype)
	return nil
}

// classOf maps a describe field type to how its values compare.
func classOf(ftype string) fieldClass {
	switch ftype {
	case "id", "reference":
		return clsID
	case "string", "textarea", "picklist", "multipicklist", "combobox", "email", "phone", "url",
		"encryptedstring":
		return clsString
	case "boolean":
		return clsBool
	case "int", "long", "double", "currency", "percent":
		return clsNumber
	case "date":
		return clsDate
	case "datetime":
		return clsDateTime
	case "time":
		return clsTime
	case "address", "location":
		return clsCompound
	}
	return clsAny
}

// typeName is the type Salesforce names in "must be of type ..." errors.
func typeName(f *fieldRef) string {
	switch f.cls {
	case clsString:
		return "string"
	case clsID:
		return "id"
	case clsDateTime:
		return "dateTime"
	case clsNumber:
		switch f.ftype {
		case "int":
			return "integer"
		case "long":
			return "long"
		}
		return "double"
	}
	return f.ftype
}

// bindNode resolves and type-checks the field expressions under n.
func (q *Query) bindNode(d *salesforce.SObjectDescribe, n *node) error {
	if n == nil {
		return nil
	}
	if n.kind != nodeCmp {
		for _, k := range n.kids {
			if err := q.bindNode(d, k); err != nil {
				return err
			}
		}
		return nil
	}
	f := n.field
	if err := q.resolve(d, f); err != nil {
		return err
	}
	if f.cls == clsCompound || f.long {
		return errAt(CodeInvalidField, q.text, f.pos, "field '"+f.name+"' can not be filtered in a query call")
	}
	switch {
	case f.cls == clsID && n.op == opLike:
		return errAt(CodeInvalidQueryFilterOperator, q.text, n.opPos, "invalid operator on id field")
	case f.ftype == "multipicklist" && (n.op == opLike || n.op == opLt || n.op == opLe || n.op == opGt ||
		n.op == opGe):
		return errAt(CodeInvalidQueryFilterOperator, q.text, n.opPos, "invalid operator on multipicklist field")
	}
	for i := range n.vals {
		if err := q.checkValue(f, &n.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkValue rejects a value whose type does not fit field f, with
// Salesforce's message.
func (q *Query) checkValue(f *fieldRef, v *literal) error {
	if v.kind == litNull || f.cls == clsAny {
		return nil
	}
	var ok bool
	switch f.cls {
	case clsString, clsID:
		ok = v.kind == litString
	case clsBool:
		ok = v.kind == litBool
	case clsNumber:
		ok = v.kind == litNumber
	case clsDate:
		ok = v.kind == litDate || v.kind == litRelative
	case clsDateTime:
		ok = v.kind == litDateTime || v.kind == litRelative
	}
	if !ok {
		quotes := "should not be enclosed in quotes"
		if f.cls == clsString || f.cls == clsID {
			quotes = "should be enclosed in quotes"
		}
		return errAt(CodeInvalidField, q.text, v.pos, "value of filter criterion for field '"+f.name+
			"' must be of type "+typeName(f)+" and "+quotes)
	}
	if f.cls == clsID && v.str != "" && !validID(v.str) {
		return errAt(CodeInvalidQueryFilterOperator, q.text, v.pos, "invalid ID field: "+v.str)
	}
	return nil
}

// validID reports whether s has the shape of a Salesforce id: 15 or 18
// letters and digits.
func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
