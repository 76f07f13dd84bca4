package cdc

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// ParseSchema reads an event schema from its Avro JSON, as Pub/Sub GetSchema
// or REST eventSchema serve it, so that events of a real org (whose schema
// the describe cannot reproduce exactly) can be decoded. A record whose
// field 0 is a ChangeEventHeader record is a change event schema; any other
// record is a platform event schema.
//
// The layout is read from the schema: every top-level field whose type is a
// record, or a union with a record branch, is a compound whose components
// are that record's fields. Salesforce types come from "doc" attributes
// where they say (see [Schema.Fields]); otherwise Field.Type is "". ID is
// this package's fingerprint of the schema, not Salesforce's schema id.
func ParseSchema(avroJSON string) (*Schema, error) {
	parsed, err := avro.ParseWithCache(avroJSON, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	rec, ok := parsed.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("%w: not a record schema", ErrInvalidSchema)
	}
	kind := KindPlatformEvent
	if fs := rec.Fields(); len(fs) > 0 && fs[0].Name() == HeaderField {
		if _, ok := deref(fs[0].Type()).(*avro.RecordSchema); ok {
			kind = KindChangeEvent
		}
	}
	fields := make([]Field, len(rec.Fields()))
	for i, af := range rec.Fields() {
		f := Field{Name: af.Name(), Type: typeFromDoc(af.Doc())}
		if kind == KindChangeEvent && i == 0 {
			f.Type = ""
		} else if nested := compoundRecord(af.Type()); nested != nil {
			f.Compound = true
			f.Components = make([]Component, 0, len(nested.Fields()))
			for _, nf := range nested.Fields() {
				f.Components = append(f.Components, Component{Name: nf.Name(), Type: typeFromDoc(nf.Doc())})
			}
		}
		fields[i] = f
	}
	s, err := newSchema(kind, avroJSON, fields, map[string]string{})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// compoundRecord returns the nested record of a compound field type: the
// type itself when it is a record, or the first record branch of a union.
func compoundRecord(t avro.Schema) *avro.RecordSchema {
	t = deref(t)
	if r, ok := t.(*avro.RecordSchema); ok {
		return r
	}
	if u, ok := t.(*avro.UnionSchema); ok {
		for _, b := range u.Types() {
			if r, ok := deref(b).(*avro.RecordSchema); ok {
				return r
			}
		}
	}
	return nil
}

// deref resolves a named-type reference.
func deref(t avro.Schema) avro.Schema {
	if r, ok := t.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return t
}
