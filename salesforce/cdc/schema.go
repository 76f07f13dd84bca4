package cdc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/sfconnect/sfconnect/salesforce"
)

// Namespace is the Avro namespace of every Salesforce event schema.
const Namespace = "com.sforce.eventbus"

// HeaderField is the name of field 0 of every change event schema, the
// ChangeEventHeader record.
const HeaderField = "ChangeEventHeader"

// Names of the header record and its enum inside change event schemas.
const (
	headerRecordName = "ChangeEventHeader"
	changeTypeName   = "ChangeType"
)

// Kind tells change event schemas from platform event schemas.
type Kind int

const (
	// KindChangeEvent is a Change Data Capture event: field 0 is the
	// ChangeEventHeader record.
	KindChangeEvent Kind = iota + 1
	// KindPlatformEvent is a Platform Event (for example /event/Low_Ink__e).
	KindPlatformEvent
)

// String returns "change event" or "platform event".
func (k Kind) String() string {
	switch k {
	case KindChangeEvent:
		return "change event"
	case KindPlatformEvent:
		return "platform event"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Field is one top-level field of an event schema, at the index it has in
// the schema's field list (the bit index used by field bitmaps).
type Field struct {
	// Name is the Avro field name, which is the Salesforce field name.
	Name string
	// Type is the Salesforce describe type ("string", "datetime",
	// "address", …). It is "" for the ChangeEventHeader, and for fields of a
	// parsed schema whose doc attribute does not say.
	Type string
	// Compound reports a compound field (address, location or a Name
	// compound): its Avro type is a nullable record of Components.
	Compound bool
	// Components are the fields of the compound's nested record, in
	// record order (the bit order of nested bitmaps). Nil unless Compound.
	Components []Component
}

// Component is one field of a compound field's nested record.
type Component struct {
	// Name is the nested Avro field name, for example City in
	// BillingAddress, or FirstName in a Name compound.
	Name string
	// SObjectField is the describe name of the component, for example
	// BillingCity. It is "" in parsed schemas.
	SObjectField string
	// Type is the Salesforce describe type, or "" when unknown.
	Type string
}

// Schema is the Avro schema of one event type, with the field layout that
// field bitmaps index. A Schema is immutable and safe for concurrent use;
// build one with [ChangeEventSchema], [PlatformEventSchema] or
// [ParseSchema].
type Schema struct {
	kind   Kind
	json   string
	id     string
	avro   *avro.RecordSchema
	fields []Field
	byName map[string]int    // exact top-level name -> index
	byFold map[string]int    // lower-case top-level name -> index
	paths  map[string]string // lower-case describe name -> field path

	flatOnce sync.Once // compiles flat on first use (DecodeFlat)
	flat     *flatPlan
}

// Kind reports whether s is a change event or a platform event schema.
func (s *Schema) Kind() Kind {
	if s == nil {
		return 0
	}
	return s.kind
}

// Name returns the Avro record name, for example AccountChangeEvent,
// Foo__ChangeEvent or Low_Ink__e.
func (s *Schema) Name() string {
	if s == nil {
		return ""
	}
	return s.avro.Name()
}

// JSON returns the Avro schema JSON: the text Pub/Sub GetSchema serves as
// schema_json. For parsed schemas it is the text that was parsed.
func (s *Schema) JSON() string {
	if s == nil {
		return ""
	}
	return s.json
}

// ID returns the schema id: the first 16 bytes of the SHA-256 of the
// schema's Avro Parsing Canonical Form, base64url-encoded without padding
// (22 characters, the shape of Salesforce schema ids such as
// "V2MGwDA2aIP0yQS98S2L6Q"). The canonical form drops docs and defaults and
// keeps names, types and field order, so the id changes exactly when the wire
// shape changes. Salesforce computes its ids some other way [UNVERIFIED]; a
// parsed real schema keeps this package's id, so keep Salesforce's id
// alongside it where it matters.
func (s *Schema) ID() string {
	if s == nil {
		return ""
	}
	return s.id
}

// Avro returns the parsed Avro schema.
func (s *Schema) Avro() avro.Schema {
	if s == nil {
		return nil
	}
	return s.avro
}

// Fields returns the top-level fields in schema order; index i is bit i of a
// top-level bitmap. For change events, field 0 is the ChangeEventHeader. The
// returned slice is a copy.
func (s *Schema) Fields() []Field {
	if s == nil {
		return nil
	}
	out := make([]Field, len(s.fields))
	for i, f := range s.fields {
		out[i] = f
		if f.Components != nil {
			out[i].Components = append([]Component(nil), f.Components...)
		}
	}
	return out
}

// Path maps a describe field name to the name used by field bitmaps and
// CometD changedFields: "Phone" gives "Phone", the component "BillingCity"
// gives "BillingAddress.City", the compound "BillingAddress" gives itself.
// Names match case-insensitively, as Salesforce resolves them. ok is false
// for fields the schema does not carry (Id, IsDeleted, SystemModstamp,
// calculated fields, unknown names). Parsed schemas know only top-level
// names.
func (s *Schema) Path(sobjectField string) (path string, ok bool) {
	if s == nil {
		return "", false
	}
	if p, ok := s.paths[strings.ToLower(sobjectField)]; ok {
		return p, true
	}
	if i, ok := s.lookup(sobjectField); ok && !(s.kind == KindChangeEvent && i == 0) {
		return s.fields[i].Name, true
	}
	return "", false
}

// lookup finds a top-level field by exact name, then case-insensitively.
func (s *Schema) lookup(name string) (int, bool) {
	if i, ok := s.byName[name]; ok {
		return i, true
	}
	i, ok := s.byFold[strings.ToLower(name)]
	return i, ok
}

// component finds a component of compound field f by exact name, then
// case-insensitively.
func (f *Field) component(name string) (int, bool) {
	for i, c := range f.Components {
		if c.Name == name {
			return i, true
		}
	}
	for i, c := range f.Components {
		if strings.EqualFold(c.Name, name) {
			return i, true
		}
	}
	return 0, false
}

// ChangeEventSchema derives the Avro schema of the change events of the
// sObject d describes (protocol reference §2.1, §2.2):
//
//   - record <Object>ChangeEvent in namespace com.sforce.eventbus; custom
//     objects Foo__c give Foo__ChangeEvent;
//   - field 0 is the ChangeEventHeader record: entityName string, recordIds
//     array of string, changeType enum ChangeType (CREATE, UPDATE, DELETE,
//     UNDELETE, GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE,
//     GAP_OVERFLOW, SNAPSHOT), changeOrigin string, transactionKey string,
//     sequenceNumber int, commitTimestamp long, commitNumber long, commitUser
//     string, nulledFields, diffFields and changedFields arrays of string;
//   - then the object's fields in describe order, without Id, IsDeleted,
//     SystemModstamp and calculated fields, each ["null", T] with default
//     null and T from the field type (see the package doc for dates);
//   - a compound field (type address or location, or any field other fields
//     name as their compoundFieldName, such as Contact.Name) becomes
//     ["null", record] whose record holds its components in describe order.
//     It takes the place of whichever of the compound field and its
//     components comes first in the describe. Address and location component
//     names lose the compound's prefix (BillingStreet → Street,
//     Geo__Latitude__s → Latitude); other compounds keep them (FirstName).
//     Compound components are kept even when the describe marks the compound
//     calculated, and calculated components are dropped.
//
// Record names of compounds are [UNVERIFIED]: address compounds use record
// Address (the first definition; later compounds with the same components
// refer to it by name), location compounds Location, other compounds their
// field name; a compound whose shape differs from an earlier one of the same
// record name is named after its field instead.
//
// The describe lacks what would be needed to include formula and roll-up
// summary fields the way Salesforce does (it has only Calculated), so all
// calculated fields are left out.
func ChangeEventSchema(d *salesforce.SObjectDescribe) (*Schema, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil describe", ErrInvalidSchema)
	}
	recordName, err := changeEventName(d.Name)
	if err != nil {
		return nil, err
	}
	entries, err := groupFields(d.Fields)
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", recordName, err)
	}

	fields := []Field{{Name: HeaderField}}
	avroFields := []avroField{{Name: HeaderField, Type: headerAvroType()}}
	paths := map[string]string{}
	defined := map[string][]avroField{} // record name -> fields, for reuse
	reserved := map[string]bool{recordName: true, headerRecordName: true, changeTypeName: true}

	for _, e := range entries {
		if !e.compound {
			prim, err := avroPrimitive(e.field.Type)
			if err != nil {
				return nil, fmt.Errorf("derive %s: field %s: %w", recordName, e.name, err)
			}
			fields = append(fields, Field{Name: e.name, Type: strings.ToLower(e.field.Type)})
			avroFields = append(avroFields, nullableField(e.name, prim, fieldDoc(e.field.Type)))
			paths[strings.ToLower(e.name)] = e.name
			continue
		}
		f, recFields, err := compoundLayout(e)
		if err != nil {
			return nil, fmt.Errorf("derive %s: compound %s: %w", recordName, e.name, err)
		}
		recName, reuse, err := compoundRecordName(e, f.Type, recFields, defined, reserved)
		if err != nil {
			return nil, fmt.Errorf("derive %s: compound %s: %w", recordName, e.name, err)
		}
		var typ any = recName
		if !reuse {
			defined[recName] = recFields
			typ = avroRecord{Type: "record", Name: recName, Fields: recFields}
		}
		af := avroField{Name: e.name, Type: []any{"null", typ}, Default: jsonNull}
		if f.Type != "" {
			af.Doc = fieldDoc(f.Type)
		}
		fields = append(fields, f)
		avroFields = append(avroFields, af)
		paths[strings.ToLower(e.name)] = e.name
		for _, c := range f.Components {
			paths[strings.ToLower(c.SObjectField)] = e.name + "." + c.Name
		}
	}

	text, err := marshalJSON(avroRecord{Type: "record", Name: recordName, Namespace: Namespace, Fields: avroFields})
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", recordName, err)
	}
	return newSchema(KindChangeEvent, text, fields, paths)
}

// PlatformEventSchema derives the Avro schema of the platform event name
// ("Low_Ink__e", or its channel "/event/Low_Ink__e") with the given fields
// (protocol reference §3): record <name> in namespace com.sforce.eventbus
// with CreatedDate (long, epoch ms, required, doc "CreatedDate:DateTime"),
// CreatedById (string, required, doc "CreatedBy:EntityId"), then the other
// fields in order as ["null", T] with default null.
//
// The system fields ReplayId, EventUuid, CreatedDate and CreatedById in
// fields are skipped (an event's describe lists them), as are calculated
// fields. EventUuid is deliberately not a payload field: real platform event
// schemas carry only CreatedDate and CreatedById besides the custom fields
// [V: schemas captured from real orgs]; the EventUuid travels outside the
// payload (CometD data.event.EventUuid; in Pub/Sub presumably
// ConsumerEvent.event.id, [UNVERIFIED]).
func PlatformEventSchema(name string, fields []salesforce.Field) (*Schema, error) {
	name = strings.TrimPrefix(name, "/event/")
	if !validName(name) {
		return nil, fmt.Errorf("%w: platform event name %q", ErrInvalidSchema, name)
	}
	layout := []Field{{Name: "CreatedDate", Type: typeDateTime}, {Name: "CreatedById", Type: "reference"}}
	avroFields := []avroField{
		{Name: "CreatedDate", Type: "long", Doc: "CreatedDate:DateTime"},
		{Name: "CreatedById", Type: "string", Doc: "CreatedBy:EntityId"},
	}
	paths := map[string]string{}
	seen := map[string]bool{}
	for _, f := range fields {
		switch strings.ToLower(f.Name) {
		case "replayid", "eventuuid", "createddate", "createdbyid":
			continue
		}
		if f.Calculated {
			continue
		}
		if !validName(f.Name) {
			return nil, fmt.Errorf("derive %s: %w: field name %q", name, ErrInvalidSchema, f.Name)
		}
		if seen[strings.ToLower(f.Name)] {
			return nil, fmt.Errorf("derive %s: %w: duplicate field %s", name, ErrInvalidSchema, f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		prim, err := avroPrimitive(f.Type)
		if err != nil {
			return nil, fmt.Errorf("derive %s: field %s: %w", name, f.Name, err)
		}
		layout = append(layout, Field{Name: f.Name, Type: strings.ToLower(f.Type)})
		avroFields = append(avroFields, nullableField(f.Name, prim, fieldDoc(f.Type)))
		paths[strings.ToLower(f.Name)] = f.Name
	}
	text, err := marshalJSON(avroRecord{Type: "record", Name: name, Namespace: Namespace, Fields: avroFields})
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", name, err)
	}
	return newSchema(KindPlatformEvent, text, layout, paths)
}

// changeEventName returns the change event record name of an sObject.
func changeEventName(object string) (string, error) {
	if !validName(object) {
		return "", fmt.Errorf("%w: object name %q", ErrInvalidSchema, object)
	}
	if base, ok := strings.CutSuffix(object, "__c"); ok && base != "" {
		return base + "__ChangeEvent", nil
	}
	return object + "ChangeEvent", nil
}

// entry is one top-level body field while a change event schema is derived.
type entry struct {
	name     string
	compound bool
	field    *salesforce.Field  // the scalar, or the compound field itself (nil if absent)
	members  []salesforce.Field // compound components in describe order
}

// groupFields turns describe fields into top-level entries in schema order.
func groupFields(in []salesforce.Field) ([]*entry, error) {
	compounds := map[string]bool{}
	for _, f := range in {
		if f.CompoundFieldName != "" {
			compounds[strings.ToLower(f.CompoundFieldName)] = true
		}
		if t := strings.ToLower(f.Type); t == typeAddress || t == typeLocation {
			compounds[strings.ToLower(f.Name)] = true
		}
	}
	var entries []*entry
	byName := map[string]*entry{}
	seen := map[string]bool{}
	compoundEntry := func(name string) *entry {
		key := strings.ToLower(name)
		if e, ok := byName[key]; ok {
			return e
		}
		e := &entry{name: name, compound: true}
		byName[key] = e
		entries = append(entries, e)
		return e
	}
	for i := range in {
		f := &in[i]
		key := strings.ToLower(f.Name)
		if !validName(f.Name) {
			return nil, fmt.Errorf("%w: field name %q", ErrInvalidSchema, f.Name)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: duplicate field %s", ErrInvalidSchema, f.Name)
		}
		seen[key] = true
		if strings.EqualFold(f.Name, HeaderField) {
			return nil, fmt.Errorf("%w: field %s collides with the header", ErrInvalidSchema, f.Name)
		}
		switch {
		case f.CompoundFieldName != "":
			if compounds[key] {
				return nil, fmt.Errorf("%w: nested compound field %s", ErrInvalidSchema, f.Name)
			}
			if !validName(f.CompoundFieldName) {
				return nil, fmt.Errorf("%w: compound field name %q of %s", ErrInvalidSchema, f.CompoundFieldName, f.Name)
			}
			if excludedName(f.CompoundFieldName) {
				continue
			}
			e := compoundEntry(f.CompoundFieldName)
			if !f.Calculated {
				e.members = append(e.members, *f)
			}
		case compounds[key]:
			if excludedName(f.Name) {
				continue
			}
			e := compoundEntry(f.Name)
			e.name = f.Name // the compound field's own spelling wins
			e.field = f
		case excludedName(f.Name) || f.Calculated:
			continue
		default:
			e := &entry{name: f.Name, field: f}
			byName[key] = e
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// excludedName reports the system fields never sent in change events
// (protocol reference §2.2).
func excludedName(name string) bool {
	switch strings.ToLower(name) {
	case "id", "isdeleted", "systemmodstamp":
		return true
	}
	return false
}

// compoundLayout builds the layout and nested Avro fields of a compound.
func compoundLayout(e *entry) (Field, []avroField, error) {
	kind := ""
	if e.field != nil {
		kind = strings.ToLower(e.field.Type)
	}
	if len(e.members) == 0 {
		return Field{}, nil, fmt.Errorf("%w: no components", ErrInvalidSchema)
	}
	f := Field{Name: e.name, Type: kind, Compound: true}
	var recFields []avroField
	seen := map[string]bool{}
	for _, m := range e.members {
		nested := m.Name
		if kind == typeAddress || kind == typeLocation {
			nested = stripCompoundPrefix(e.name, kind, m.Name)
		}
		if !validName(nested) || seen[strings.ToLower(nested)] {
			return Field{}, nil, fmt.Errorf("%w: component %s gives nested name %q", ErrInvalidSchema, m.Name, nested)
		}
		seen[strings.ToLower(nested)] = true
		prim, err := avroPrimitive(m.Type)
		if err != nil {
			return Field{}, nil, fmt.Errorf("component %s: %w", m.Name, err)
		}
		f.Components = append(f.Components, Component{Name: nested, SObjectField: m.Name, Type: strings.ToLower(m.Type)})
		recFields = append(recFields, nullableField(nested, prim, fieldDoc(m.Type)))
	}
	return f, recFields, nil
}

// stripCompoundPrefix gives the nested name of an address or location
// component: BillingAddress/BillingStreet → Street, Address/City → City,
// Geo__c/Geo__Latitude__s → Latitude. Names without the prefix are kept.
func stripCompoundPrefix(compound, kind, component string) string {
	if base, ok := strings.CutSuffix(compound, "__c"); ok {
		rest, ok := strings.CutPrefix(component, base+"__")
		if !ok {
			return component
		}
		rest = strings.TrimSuffix(rest, "__s")
		if rest == "" {
			return component
		}
		return rest
	}
	suffix := "Address"
	if kind == typeLocation {
		suffix = "Location"
	}
	base := compound
	if len(compound) >= len(suffix) && strings.EqualFold(compound[len(compound)-len(suffix):], suffix) {
		base = compound[:len(compound)-len(suffix)]
	}
	if rest, ok := strings.CutPrefix(component, base); ok && rest != "" {
		return rest
	}
	return component
}

// compoundRecordName picks the record name of a compound's nested record and
// reports whether an identical record of that name is already defined (so
// the field refers to it by name instead of defining it again, which Avro
// forbids).
func compoundRecordName(e *entry, kind string, recFields []avroField, defined map[string][]avroField, reserved map[string]bool) (string, bool, error) {
	candidates := []string{e.name}
	switch kind {
	case typeAddress:
		candidates = []string{"Address", e.name}
	case typeLocation:
		candidates = []string{"Location", e.name}
	}
	for _, name := range candidates {
		if reserved[name] {
			continue
		}
		prev, ok := defined[name]
		if !ok {
			return name, false, nil
		}
		if sameShape(prev, recFields) {
			return name, true, nil
		}
	}
	return "", false, fmt.Errorf("%w: no free record name", ErrInvalidSchema)
}

// sameShape reports whether two nested records have the same fields.
func sameShape(a, b []avroField) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || fmt.Sprint(a[i].Type) != fmt.Sprint(b[i].Type) {
			return false
		}
	}
	return true
}

// newSchema parses text and wraps it with its layout.
func newSchema(kind Kind, text string, fields []Field, paths map[string]string) (*Schema, error) {
	// A fresh cache per parse: the package-level default cache would keep
	// (and clash on) named types of older versions of the same event.
	parsed, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	rec, ok := parsed.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("%w: not a record schema", ErrInvalidSchema)
	}
	if len(rec.Fields()) != len(fields) {
		return nil, fmt.Errorf("%w: layout has %d fields, schema %d", ErrInvalidSchema, len(fields), len(rec.Fields()))
	}
	// rec.String() is the Parsing Canonical Form.
	fp := sha256.Sum256([]byte(rec.String()))
	s := &Schema{
		kind:   kind,
		json:   text,
		id:     base64.RawURLEncoding.EncodeToString(fp[:16]),
		avro:   rec,
		fields: fields,
		byName: make(map[string]int, len(fields)),
		byFold: make(map[string]int, len(fields)),
		paths:  paths,
	}
	for i, f := range fields {
		s.byName[f.Name] = i
		if _, dup := s.byFold[strings.ToLower(f.Name)]; !dup {
			s.byFold[strings.ToLower(f.Name)] = i
		}
	}
	return s, nil
}

// validName reports whether name is a valid Avro name: [A-Za-z_][A-Za-z0-9_]*.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// avroRecord and avroField marshal Avro schema JSON with a fixed key order.
type avroRecord struct {
	Type      string      `json:"type"`
	Name      string      `json:"name"`
	Namespace string      `json:"namespace,omitempty"`
	Fields    []avroField `json:"fields"`
}

type avroField struct {
	Name    string          `json:"name"`
	Type    any             `json:"type"`
	Doc     string          `json:"doc,omitempty"`
	Default json.RawMessage `json:"default,omitempty"`
}

type avroArray struct {
	Type  string `json:"type"`
	Items string `json:"items"`
}

type avroEnum struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Symbols []string `json:"symbols"`
}

var jsonNull = json.RawMessage("null")

// nullableField is a ["null", T] field with default null.
func nullableField(name, prim, doc string) avroField {
	return avroField{Name: name, Type: []any{"null", prim}, Doc: doc, Default: jsonNull}
}

// headerAvroType is the ChangeEventHeader record (protocol reference §2.1).
// Its exact JSON at Salesforce (docs, enum namespace) is [UNVERIFIED]; this
// shape decodes with the real Node client [V].
func headerAvroType() avroRecord {
	strs := avroArray{Type: "array", Items: "string"}
	symbols := make([]string, len(changeTypes))
	for i, ct := range changeTypes {
		symbols[i] = string(ct)
	}
	return avroRecord{Type: "record", Name: headerRecordName, Fields: []avroField{
		{Name: "entityName", Type: "string"},
		{Name: "recordIds", Type: strs},
		{Name: "changeType", Type: avroEnum{Type: "enum", Name: changeTypeName, Symbols: symbols}},
		{Name: "changeOrigin", Type: "string"},
		{Name: "transactionKey", Type: "string"},
		{Name: "sequenceNumber", Type: "int"},
		{Name: "commitTimestamp", Type: "long"},
		{Name: "commitNumber", Type: "long"},
		{Name: "commitUser", Type: "string"},
		{Name: "nulledFields", Type: strs},
		{Name: "diffFields", Type: strs},
		{Name: "changedFields", Type: strs},
	}}
}

// marshalJSON encodes v without HTML escaping.
func marshalJSON(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
