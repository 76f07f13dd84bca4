package org

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sfconnect/sfconnect/salesforce"
)

// DateTimeFormat is how the REST API renders datetime values.
const DateTimeFormat = "2006-01-02T15:04:05.000-0700"

// dateTimeLayouts are accepted on input.
var dateTimeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05",
}

// FormatDateTime renders t as the REST API does (UTC, milliseconds).
func FormatDateTime(t time.Time) string {
	return t.UTC().Format(DateTimeFormat)
}

// ParseDateTime parses the datetime forms the API accepts.
func ParseDateTime(s string) (time.Time, error) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid datetime %q", s)
}

// stringTypes are the field types whose values are strings.
var stringTypes = map[string]bool{
	"string": true, "textarea": true, "picklist": true, "multipicklist": true, "phone": true,
	"email": true, "url": true, "reference": true, "id": true, "combobox": true, "encryptedstring": true,
}

// coerce converts a JSON-decoded value to the stored form of fl, or returns
// the record error Salesforce gives for it.
func coerce(fl *salesforce.Field, v any) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	bad := func() *Error {
		return errorf(CodeInvalidTypeOnField, []string{fl.Name}, "%s: value not of required type: %v", fl.Label, v)
	}
	switch {
	case stringTypes[fl.Type]:
		s, ok := v.(string)
		if !ok {
			if n, isNum := v.(float64); isNum && fl.Type != "reference" {
				s = strconv.FormatFloat(n, 'f', -1, 64)
			} else {
				return nil, bad()
			}
		}
		if fl.Length > 0 && utf8.RuneCountInString(s) > fl.Length {
			return nil, errorf(CodeStringTooLong, []string{fl.Name}, "%s: data value too large: %s (max length=%d)", fl.Label, truncate(s, 40), fl.Length)
		}
		if s == "" {
			return nil, nil // Salesforce stores empty strings as null
		}
		if fl.Type == "reference" || fl.Type == "id" {
			id, err := NormalizeID(s)
			if err != nil {
				return nil, errorf(CodeMalformedID, []string{fl.Name}, "%s: id value of incorrect type: %s", fl.Label, truncate(s, 40))
			}
			return id, nil
		}
		return s, nil
	case fl.Type == "boolean":
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if p, err := strconv.ParseBool(b); err == nil {
				return p, nil
			}
		}
		return nil, bad()
	case fl.Type == "int" || fl.Type == "long" || fl.Type == "double" || fl.Type == "currency" || fl.Type == "percent":
		var n float64
		switch x := v.(type) {
		case float64:
			n = x
		case int:
			n = float64(x)
		case int64:
			n = float64(x)
		case string:
			p, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, bad()
			}
			n = p
		default:
			return nil, bad()
		}
		if math.IsNaN(n) || math.IsInf(n, 0) || ((fl.Type == "int" || fl.Type == "long") && n != math.Trunc(n)) {
			return nil, bad()
		}
		return n, nil
	case fl.Type == "date":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t.Format("2006-01-02"), nil
		}
		if t, err := ParseDateTime(s); err == nil {
			return t.UTC().Format("2006-01-02"), nil
		}
		return nil, bad()
	case fl.Type == "datetime":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		t, err := ParseDateTime(s)
		if err != nil {
			return nil, bad()
		}
		return FormatDateTime(t), nil
	}
	return nil, errorf(CodeInvalidFieldForInsert, []string{fl.Name}, "Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", fl.Name)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// timeOfDayLayouts are the forms of a time field's value.
var timeOfDayLayouts = []string{"15:04:05.000Z", "15:04:05Z", "15:04:05.000", "15:04:05"}

// EventValue converts a stored value to the form change and platform
// events carry: date and datetime strings (the REST API's forms, as the org
// stores them) become milliseconds since the epoch, time strings
// milliseconds since midnight; other values pass through. Both event
// surfaces (Pub/Sub and CometD) use it, so they agree on every value.
func EventValue(sfType string, v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil
	}
	switch sfType {
	case "datetime", "date":
		layout := DateTimeFormat
		if sfType == "date" {
			layout = time.DateOnly
		}
		t, err := time.Parse(layout, s)
		if err != nil {
			if t, err = ParseDateTime(s); err != nil {
				return nil, err
			}
		}
		return t.UnixMilli(), nil
	case "time":
		for _, layout := range timeOfDayLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return int64(t.Hour()*3600+t.Minute()*60+t.Second())*1000 + int64(t.Nanosecond()/1e6), nil
			}
		}
		return nil, fmt.Errorf("invalid time %q", s)
	}
	return v, nil
}
