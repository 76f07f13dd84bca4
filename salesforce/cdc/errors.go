package cdc

import "errors"

var (
	// ErrInvalidSchema reports a describe, field list or Avro JSON that
	// cannot be turned into an event schema.
	ErrInvalidSchema = errors.New("invalid event schema")

	// ErrUnsupportedType reports a Salesforce field type with no Avro
	// mapping in change events or platform events.
	ErrUnsupportedType = errors.New("unsupported field type")

	// ErrWrongKind reports a change-event operation on a platform event
	// schema, or the reverse.
	ErrWrongKind = errors.New("wrong event kind for schema")

	// ErrUnknownField reports a field name that the schema does not have.
	ErrUnknownField = errors.New("unknown field")

	// ErrInvalidBitmap reports a malformed changedFields, nulledFields or
	// diffFields element, or one naming a field the schema does not have.
	ErrInvalidBitmap = errors.New("invalid field bitmap")

	// ErrInvalidValue reports a Go value that does not fit the Avro type of
	// its field.
	ErrInvalidValue = errors.New("invalid field value")

	// ErrMalformedPayload reports Avro binary data that does not decode with
	// the schema.
	ErrMalformedPayload = errors.New("malformed event payload")
)
