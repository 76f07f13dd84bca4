package cdc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/hamba/avro/v2"
)

// FlatField is one value of an event decoded by [Schema.DecodeFlat] or
// [Schema.DecodePlatformFlat].
type FlatField struct {
	// Name is the field name, with the names of the records (and keys of
	// the maps) it sits in before it, joined by dots: Phone,
	// BillingAddress.City.
	Name string
	// Type is the Salesforce type of a top-level field or of a compound's
	// component (see [Field] and [Component]), "" otherwise.
	Type string
	// Value is the decoded value; records and maps are never values here,
	// they are flattened.
	Value Value
	// Rank is Name's position among every name the schema can give a
	// value in byte order (as sort.Strings orders them), so that sorting
	// a decoded event's fields by name takes integer comparisons; -1 for
	// names only known at run time (map keys, records below the compiled
	// depth).
	Rank int
}

// ValueKind says which field of a [Value] holds it.
type ValueKind uint8

// Value kinds.
const (
	ValueNull   ValueKind = iota // a null map value
	ValueBool                    // Num: 0 or 1
	ValueInt                     // Num: the int32, sign-extended to 64 bits
	ValueLong                    // Num: the int64's bits
	ValueFloat                   // Num: the float32 widened to float64, as bits
	ValueDouble                  // Num: the float64's bits
	ValueString                  // Str: a string or an enum symbol
	ValueOther                   // Other: bytes, fixed, arrays
)

// Value is one decoded value held without an interface, so that decoding
// a field allocates nothing beyond its string bytes. Interface gives the
// package's usual value type.
type Value struct {
	Kind  ValueKind
	Num   uint64
	Str   string
	Other any
}

// Interface returns the value in the package's value types: nil, bool,
// int32, int64, float32, float64, string, []byte or []any.
func (v Value) Interface() any {
	switch v.Kind {
	case ValueBool:
		return v.Num != 0
	case ValueInt:
		return int32(v.Num)
	case ValueLong:
		return int64(v.Num)
	case ValueFloat:
		return float32(math.Float64frombits(v.Num))
	case ValueDouble:
		return math.Float64frombits(v.Num)
	case ValueString:
		return v.Str
	case ValueOther:
		return v.Other
	}
	return nil
}

// valueOf holds a value readValue gave (never a map: those are
// flattened).
func valueOf(v any) Value {
	switch x := v.(type) {
	case nil:
		return Value{}
	case bool:
		if x {
			return Value{Kind: ValueBool, Num: 1}
		}
		return Value{Kind: ValueBool}
	case int32:
		return Value{Kind: ValueInt, Num: uint64(int64(x))}
	case int64:
		return Value{Kind: ValueLong, Num: uint64(x)}
	case float32:
		return Value{Kind: ValueFloat, Num: math.Float64bits(float64(x))}
	case float64:
		return Value{Kind: ValueDouble, Num: math.Float64bits(x)}
	case string:
		return Value{Kind: ValueString, Str: x}
	}
	return Value{Kind: ValueOther, Other: v}
}

// FlatChange is a change event decoded by [Schema.DecodeFlat].
type FlatChange struct {
	// Header is the ChangeEventHeader.
	Header Header
	// Fields are the body's values, flattened, in payload order. Null
	// record fields are left out, as in [ChangeEvent]; null map values are
	// kept with a nil Value.
	Fields []FlatField
}

// DecodeFlat reads the Avro binary payload of a change event, as [Schema.Decode]
// does, but writes the body straight into a flat list instead of nested
// maps: what Decode would give, with every record and map value replaced
// by its entries under dotted names, and each name's Salesforce type
// attached. ev.Fields is reused (truncated first), so a caller decoding
// many events allocates only the values.
//
// Decoding follows a plan compiled from the schema once, on first use: no
// per-value schema walk, no map per record. Errors are those of Decode.
func (s *Schema) DecodeFlat(payload []byte, ev *FlatChange) error {
	if err := s.needKind(KindChangeEvent); err != nil {
		return err
	}
	ev.Fields = ev.Fields[:0]
	hdr := headerSlots{plan: s.flatPlan().header}
	err := s.decodeFlat(payload, &hdr, &ev.Fields)
	if err != nil {
		return err
	}
	h, err := hdr.header()
	if err != nil {
		return fmt.Errorf("decode %s: %w: %w", s.Name(), ErrMalformedPayload, err)
	}
	ev.Header = h
	return nil
}

// DecodePlatformFlat reads the Avro binary payload of a platform event into
// flat fields appended to dst[:0], as [Schema.DecodeFlat] does for change
// events.
func (s *Schema) DecodePlatformFlat(payload []byte, dst []FlatField) ([]FlatField, error) {
	if err := s.needKind(KindPlatformEvent); err != nil {
		return nil, err
	}
	dst = dst[:0]
	if err := s.decodeFlat(payload, nil, &dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// decodeFlat runs the compiled plan over payload; hdr receives the change
// event header (nil for platform events).
func (s *Schema) decodeFlat(payload []byte, hdr *headerSlots, out *[]FlatField) error {
	p := s.flatPlan()
	r := flatReaders.Get().(*avro.Reader)
	defer func() {
		r.Reset(nil) // keep no payload alive in the pool
		flatReaders.Put(r)
	}()
	r.Error = nil // Reset leaves it
	r.Reset(payload)
	if err := p.root.record(r, p, 0, hdr, out); err != nil {
		return fmt.Errorf("decode %s: %w: %w", s.Name(), ErrMalformedPayload, err)
	}
	// Peek on an exhausted buffer sets io.EOF; no error means bytes are left.
	r.Peek()
	if r.Error == nil {
		return fmt.Errorf("decode %s: %w: trailing bytes", s.Name(), ErrMalformedPayload)
	}
	return nil
}

// flatReaders are the Readers DecodeFlat reads with. A Reader copies
// short strings into a slab it cuts them from, so one kept from event to
// event allocates a slab every kilobyte of strings instead of one per
// event; the strings never point into the payload.
var flatReaders = sync.Pool{New: func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(codec)) }}

// flatPlan is a schema compiled for flat decoding.
type flatPlan struct {
	root   *flatNode
	types  map[string]string // flattened name -> Salesforce type (see FlatField.Type)
	header []headerOp        // typed decoding of the change event header; nil: decode it generically
}

// flatCompileDepth bounds how many records deep the plan is compiled;
// below it (recursive schemas) values are decoded with readValue and
// flattened as they come. Salesforce schemas are two records deep.
const flatCompileDepth = 8

// flatPlan returns the schema's plan, compiling it on first use.
func (s *Schema) flatPlan() *flatPlan {
	s.flatOnce.Do(func() {
		p := &flatPlan{types: map[string]string{}}
		for _, f := range s.fields {
			p.types[f.Name] = f.Type
			for _, c := range f.Components {
				p.types[f.Name+"."+c.Name] = c.Type
			}
		}
		p.root = p.compile(s.avro, "", 0, s.kind == KindChangeEvent)
		p.rank()
		if s.kind == KindChangeEvent {
			p.header = compileHeader(s.avro.Fields()[0].Type())
		}
		s.flat = p
	})
	return s.flat
}

// flatNode decodes one value. Records and unions are compiled (their
// fields and branches are nodes); every other type is a leaf read by kind,
// and what the plan does not compile (arrays, maps, records below
// flatCompileDepth) is read with readValue and flattened at run time.
type flatNode struct {
	schema avro.Schema // dereferenced
	kind   avro.Type
	name   string // flattened name of the value (the prefix of a record's fields)
	sfType string
	rank   int // FlatField.Rank of a leaf
	// generic: read with readValue, then flatten (arrays, maps, deep
	// records).
	generic  bool
	symbols  []string       // enum
	fields   []flatRecField // record
	branches []*flatNode    // union
}

type flatRecField struct {
	avroName string
	node     *flatNode
	header   bool // field 0 of a change event
}

func (p *flatPlan) compile(t avro.Schema, name string, records int, changeEvent bool) *flatNode {
	t = deref(t)
	n := &flatNode{schema: t, kind: t.Type(), name: name, sfType: p.types[name]}
	switch n.kind {
	case avro.Enum:
		n.symbols = t.(*avro.EnumSchema).Symbols()
	case avro.Array, avro.Map, avro.Fixed:
		n.generic = true
	case avro.Record:
		if records >= flatCompileDepth {
			n.generic = true
			break
		}
		for i, f := range t.(*avro.RecordSchema).Fields() {
			child := joinFlat(name, f.Name())
			rf := flatRecField{avroName: f.Name()}
			if changeEvent && i == 0 {
				// The header keeps its own decoding (headerFrom); it is never
				// part of the flat body.
				rf.header = true
				rf.node = &flatNode{schema: deref(f.Type()), kind: avro.Record, generic: true}
			} else {
				rf.node = p.compile(f.Type(), child, records+1, false)
			}
			n.fields = append(n.fields, rf)
		}
	case avro.Union:
		for _, b := range t.(*avro.UnionSchema).Types() {
			n.branches = append(n.branches, p.compile(b, name, records, false))
		}
	case avro.Null, avro.Boolean, avro.Int, avro.Long, avro.Float, avro.Double, avro.String, avro.Bytes:
	default:
		n.generic = true // readValue reports the type as unsupported
	}
	return n
}

// rank numbers the compiled leaves by name (see FlatField.Rank); union
// branches share their field's name, and so its rank.
func (p *flatPlan) rank() {
	var leaves []*flatNode
	var walk func(n *flatNode)
	walk = func(n *flatNode) {
		switch {
		case n.generic:
			n.rank = -1
		case n.kind == avro.Record:
			for i := range n.fields {
				if !n.fields[i].header {
					walk(n.fields[i].node)
				}
			}
		case n.kind == avro.Union:
			for _, b := range n.branches {
				walk(b)
			}
		default:
			leaves = append(leaves, n)
		}
	}
	walk(p.root)
	names := make([]string, 0, len(leaves))
	for _, n := range leaves {
		names = append(names, n.name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range leaves {
		n.rank, _ = slices.BinarySearch(names, n.name)
	}
}

func joinFlat(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// record decodes the fields of record node n at nesting depth (as
// readValue counts it), appending non-null values to out.
func (n *flatNode) record(r *avro.Reader, p *flatPlan, depth int, hdr *headerSlots, out *[]FlatField) error {
	for i := range n.fields {
		f := &n.fields[i]
		if f.header {
			if err := hdr.read(r, f.node.schema, depth+1); err != nil {
				return fmt.Errorf("%s: %w", f.avroName, err)
			}
			continue
		}
		if err := f.node.value(r, p, depth+1, out); err != nil {
			return fmt.Errorf("%s: %w", f.avroName, err)
		}
	}
	return nil
}

// value decodes one value of node n at depth and appends it, flattened,
// unless it is null.
func (n *flatNode) value(r *avro.Reader, p *flatPlan, depth int, out *[]FlatField) error {
	if depth > maxDepth {
		return errors.New("nesting too deep")
	}
	if n.generic {
		v, err := readValue(r, n.schema, depth)
		if err != nil {
			return err
		}
		p.flatten(n.name, v, out)
		return nil
	}
	var v Value
	switch n.kind {
	case avro.Null:
		return nil
	case avro.Boolean:
		v.Kind = ValueBool
		if r.ReadBool() {
			v.Num = 1
		}
	case avro.Int:
		v.Kind, v.Num = ValueInt, uint64(int64(r.ReadInt()))
	case avro.Long:
		v.Kind, v.Num = ValueLong, uint64(r.ReadLong())
	case avro.Float:
		v.Kind, v.Num = ValueFloat, math.Float64bits(float64(r.ReadFloat()))
	case avro.Double:
		v.Kind, v.Num = ValueDouble, math.Float64bits(r.ReadDouble())
	case avro.String:
		v.Kind, v.Str = ValueString, r.ReadString()
	case avro.Bytes:
		v.Kind, v.Other = ValueOther, r.ReadBytes()
	case avro.Enum:
		i := r.ReadInt()
		if r.Error == nil && (i < 0 || int(i) >= len(n.symbols)) {
			return fmt.Errorf("enum index %d out of range", i)
		}
		if r.Error == nil {
			v.Kind, v.Str = ValueString, n.symbols[i]
		}
	case avro.Record:
		if err := n.record(r, p, depth, nil, out); err != nil {
			return err
		}
		return r.Error
	case avro.Union:
		i := r.ReadLong()
		if r.Error == nil && (i < 0 || i >= int64(len(n.branches))) {
			return fmt.Errorf("union index %d out of range", i)
		}
		if r.Error != nil {
			return r.Error
		}
		return n.branches[i].value(r, p, depth+1, out)
	}
	if r.Error != nil {
		return r.Error
	}
	*out = append(*out, FlatField{Name: n.name, Type: n.sfType, Value: v, Rank: n.rank})
	return nil
}

// flatten appends v under name: records and maps (map[string]any, as
// readValue gives both) entry by entry under dotted names, nil left out at
// the top (a null field) but kept inside maps, anything else as it is.
func (p *flatPlan) flatten(name string, v any, out *[]FlatField) {
	m, ok := v.(map[string]any)
	if !ok {
		if v != nil {
			*out = append(*out, FlatField{Name: name, Type: p.types[name], Value: valueOf(v), Rank: -1})
		}
		return
	}
	for k, e := range m {
		child := joinFlat(name, k)
		if nested, ok := e.(map[string]any); ok {
			p.flatten(child, nested, out)
			continue
		}
		*out = append(*out, FlatField{Name: child, Type: p.types[child], Value: valueOf(e), Rank: -1})
	}
}

// headerFrom reads a decoded ChangeEventHeader through get (nil for a
// missing or null field). It is lenient about the header's Avro types (a
// parsed real schema may differ from the derived one) and strict about the
// Go types it accepts.
func headerFrom(get func(key string) any) (Header, error) {
	var h Header
	var err error
	str := func(key string) string {
		v := get(key)
		if err != nil || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			err = fmt.Errorf("%s: got %T", key, v)
		}
		return s
	}
	strs := func(key string) []string {
		out := []string{}
		v := get(key)
		if err != nil || v == nil {
			return out
		}
		a, ok := v.([]any)
		if !ok {
			err = fmt.Errorf("%s: got %T", key, v)
			return out
		}
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				err = fmt.Errorf("%s: element %T", key, e)
				return out
			}
			out = append(out, s)
		}
		return out
	}
	long := func(key string, lo, hi int64) int64 {
		v := get(key)
		if err != nil || v == nil {
			return 0
		}
		var n int64
		switch x := v.(type) {
		case int32:
			n = int64(x)
		case int64:
			n = x
		default:
			err = fmt.Errorf("%s: got %T", key, v)
		}
		if n < lo || n > hi {
			err = fmt.Errorf("%s: %d out of range", key, n)
		}
		return n
	}
	h.EntityName = str("entityName")
	h.RecordIDs = strs("recordIds")
	h.ChangeType = ChangeType(str("changeType"))
	h.ChangeOrigin = str("changeOrigin")
	h.TransactionKey = str("transactionKey")
	h.SequenceNumber = int32(long("sequenceNumber", math.MinInt32, math.MaxInt32))
	h.CommitTimestamp = long("commitTimestamp", math.MinInt64, math.MaxInt64)
	h.CommitNumber = long("commitNumber", math.MinInt64, math.MaxInt64)
	h.CommitUser = str("commitUser")
	h.NulledFields = strs("nulledFields")
	h.DiffFields = strs("diffFields")
	h.ChangedFields = strs("changedFields")
	return h, err
}
