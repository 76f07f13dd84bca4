package cdc

import (
	"fmt"
	"strings"
)

// Salesforce field types with a special role in event schemas.
const (
	typeAddress  = "address"
	typeLocation = "location"
	typeDate     = "date"
	typeDateTime = "datetime"
	typeTime     = "time"
)

// avroPrimitives maps each supported Salesforce describe type to the Avro
// primitive that carries it in change events and platform events
// (protocol reference §2.2 and §3). Dates, datetimes and times are longs:
// milliseconds since the Unix epoch (UTC) for date and datetime, milliseconds
// since midnight for time. The time mapping is [UNVERIFIED] against a real
// org; it follows the date and datetime rule.
var avroPrimitives = map[string]string{
	"id":              "string",
	"string":          "string",
	"textarea":        "string",
	"picklist":        "string",
	"multipicklist":   "string",
	"combobox":        "string",
	"reference":       "string",
	"email":           "string",
	"phone":           "string",
	"url":             "string",
	"encryptedstring": "string",
	"boolean":         "boolean",
	"int":             "int",
	"long":            "long",
	"double":          "double",
	"currency":        "double",
	"percent":         "double",
	typeDate:          "long",
	typeDateTime:      "long",
	typeTime:          "long",
}

// avroPrimitive returns the Avro primitive for a Salesforce scalar type.
func avroPrimitive(sfType string) (string, error) {
	if p, ok := avroPrimitives[strings.ToLower(sfType)]; ok {
		return p, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedType, sfType)
}

// fieldDoc is the Avro "doc" attribute written for a body field. Salesforce
// writes docs such as "Data:Text:00N…" and "CreatedDate:DateTime" [V: real
// platform event schemas]; this package writes "Data:<describe type>" (the
// describe carries no field id), which is enough for [ParseSchema] to tell
// dates and times from plain longs. The exact CDC doc strings are
// [UNVERIFIED]. Docs are not part of the canonical form, so they never change
// a schema id.
func fieldDoc(sfType string) string {
	return "Data:" + strings.ToLower(sfType)
}

// typeFromDoc recovers a Salesforce type from a field doc written by
// Salesforce or by this package, or returns "" when the doc says nothing this
// package uses. Only the second ':'-separated segment is read, so
// "Data:datetime", "CreatedDate:DateTime" and "Data:DateTime:00N…" all give
// "datetime".
func typeFromDoc(doc string) string {
	parts := strings.Split(doc, ":")
	if len(parts) < 2 {
		return ""
	}
	t := strings.ToLower(parts[1])
	switch t {
	case "text":
		return "string"
	case "entityid":
		return "reference"
	case typeAddress, typeLocation:
		return t
	}
	if _, ok := avroPrimitives[t]; ok {
		return t
	}
	return ""
}
