package pubsubserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
)

// Encoding change event payloads dominates a subscription's cost, and
// cdc.Schema.Encode takes the general route (values checked into maps, then
// hamba's generic encoder): about 44 µs and 200 allocations per Account
// update (BenchmarkEncode_AccountUpdate), which held a backlog drain to about
// 17,000 events/s. changePlan is the same encoding compiled once per schema:
// it walks the schema's Avro fields in order and appends Avro binary straight
// from the bus event's values, in about 2 µs (most of the remaining
// allocations are the field bitmaps). It is driven by the very schema cdc
// derived (cdc.Schema.Avro), writes the same bytes as cdc (tests compare the
// two on every kind of event the org produces), and hands anything it does
// not expect back to cdc.Schema.Encode, which then decides.

// errUnplanned sends an event back to cdc.Schema.Encode.
var errUnplanned = errors.New("value outside the compiled plan")

// changePlan is a change event schema compiled for encoding.
type changePlan struct {
	header *avro.RecordSchema
	body   []planField // top-level fields after the header, in order
	nvals  int         // value slots: scalars and compound components
	// slots maps schema paths (Phone, BillingAddress.City) to value slots.
	slots map[string]int
}

// planField is one top-level body field.
type planField struct {
	typ avro.Schema // the field's type, usually ["null", T]
	val int         // value slot of a scalar
	// Compounds: the union branches of null and of the record, and the
	// record's fields.
	compound      bool
	nullBranch    int
	recordBranch  int
	components    []planField // scalars, in record order
	hasNullBranch bool
}

// newChangePlan compiles schema s, or returns nil when its shape is not the
// one cdc derives (the caller then always uses cdc.Schema.Encode).
func newChangePlan(s *cdc.Schema) *changePlan {
	rec, ok := s.Avro().(*avro.RecordSchema)
	if !ok {
		return nil
	}
	fields := rec.Fields()
	layout := s.Fields()
	if len(fields) == 0 || len(fields) != len(layout) || fields[0].Name() != cdc.HeaderField {
		return nil
	}
	header, ok := deref(fields[0].Type()).(*avro.RecordSchema)
	if !ok {
		return nil
	}
	p := &changePlan{header: header, slots: map[string]int{}}
	for i, f := range fields[1:] {
		lf := layout[i+1]
		if !lf.Compound {
			p.body = append(p.body, planField{typ: f.Type(), val: p.nvals})
			p.slots[f.Name()] = p.nvals
			p.nvals++
			continue
		}
		u, ok := deref(f.Type()).(*avro.UnionSchema)
		if !ok {
			return nil
		}
		pf := planField{typ: f.Type(), compound: true, recordBranch: -1}
		var record *avro.RecordSchema
		for bi, b := range u.Types() {
			if r, ok := deref(b).(*avro.RecordSchema); ok {
				pf.recordBranch, record = bi, r
			} else if b.Type() == avro.Null {
				pf.nullBranch, pf.hasNullBranch = bi, true
			}
		}
		if record == nil || !pf.hasNullBranch {
			return nil
		}
		for _, cf := range record.Fields() {
			pf.components = append(pf.components, planField{typ: cf.Type(), val: p.nvals})
			p.slots[f.Name()+"."+cf.Name()] = p.nvals
			p.nvals++
		}
		p.body = append(p.body, pf)
	}
	return p
}

// deref resolves a reference to a named type.
func deref(t avro.Schema) avro.Schema {
	if r, ok := t.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return t
}

// encode appends the payload of ev to buf: header from h (bitmaps already
// encoded), body from vals, indexed by value slot.
func (p *changePlan) encode(buf []byte, h *bus.Header, bitmaps *[3][]string, vals []any) ([]byte, error) {
	w := avroWriter{buf: buf}
	for _, f := range p.header.Fields() {
		var v any
		switch f.Name() {
		case "entityName":
			v = h.EntityName
		case "recordIds":
			v = h.RecordIDs
		case "changeType":
			v = h.ChangeType
		case "changeOrigin":
			v = h.ChangeOrigin
		case "transactionKey":
			v = h.TransactionKey
		case "sequenceNumber":
			v = int64(h.SequenceNumber)
		case "commitTimestamp":
			v = h.CommitTimestamp
		case "commitNumber":
			v = h.CommitNumber
		case "commitUser":
			v = h.CommitUser
		case "nulledFields":
			v = bitmaps[0]
		case "diffFields":
			v = bitmaps[1]
		case "changedFields":
			v = bitmaps[2]
		default:
			return nil, fmt.Errorf("%w: header field %s", errUnplanned, f.Name())
		}
		if err := w.value(f.Type(), v); err != nil {
			return nil, err
		}
	}
	for i := range p.body {
		f := &p.body[i]
		if !f.compound {
			if err := w.value(f.typ, vals[f.val]); err != nil {
				return nil, err
			}
			continue
		}
		set := false
		for _, c := range f.components {
			if vals[c.val] != nil {
				set = true
				break
			}
		}
		if !set {
			w.long(int64(f.nullBranch))
			continue
		}
		w.long(int64(f.recordBranch))
		for _, c := range f.components {
			if err := w.value(c.typ, vals[c.val]); err != nil {
				return nil, err
			}
		}
	}
	return w.buf, nil
}

// avroWriter appends Avro binary encoding as hamba does with cdc's
// configuration: an array is one block with a plain count (no byte size),
// then the terminating 0.
type avroWriter struct {
	buf []byte
}

func (w *avroWriter) long(n int64) {
	w.buf = binary.AppendUvarint(w.buf, uint64(n<<1)^uint64(n>>63))
}

func (w *avroWriter) str(s string) {
	w.long(int64(len(s)))
	w.buf = append(w.buf, s...)
}

// value appends v as Avro type t. Go values outside what the bus carries
// after eventValue give errUnplanned.
func (w *avroWriter) value(t avro.Schema, v any) error {
	t = deref(t)
	switch t.Type() {
	case avro.Union:
		for i, b := range t.(*avro.UnionSchema).Types() {
			if (v == nil) != (deref(b).Type() == avro.Null) {
				continue
			}
			mark := len(w.buf)
			w.long(int64(i))
			if err := w.value(b, v); err != nil {
				w.buf = w.buf[:mark]
				continue
			}
			return nil
		}
		return fmt.Errorf("%w: no union branch for %T", errUnplanned, v)
	case avro.Null:
		if v != nil {
			return errUnplanned
		}
		return nil
	case avro.String:
		s, ok := v.(string)
		if !ok {
			return errUnplanned
		}
		w.str(s)
		return nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return errUnplanned
		}
		if b {
			w.buf = append(w.buf, 1)
		} else {
			w.buf = append(w.buf, 0)
		}
		return nil
	case avro.Int, avro.Long:
		n, ok := integer(v)
		if !ok || (t.Type() == avro.Int && (n < math.MinInt32 || n > math.MaxInt32)) {
			return errUnplanned
		}
		w.long(n)
		return nil
	case avro.Double:
		f, ok := float(v)
		if !ok {
			return errUnplanned
		}
		w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(f))
		return nil
	case avro.Float:
		f, ok := float(v)
		if !ok {
			return errUnplanned
		}
		w.buf = binary.LittleEndian.AppendUint32(w.buf, math.Float32bits(float32(f)))
		return nil
	case avro.Enum:
		s, ok := v.(string)
		if !ok {
			return errUnplanned
		}
		for i, sym := range t.(*avro.EnumSchema).Symbols() {
			if sym == s {
				w.long(int64(i))
				return nil
			}
		}
		return fmt.Errorf("%w: enum symbol %q", errUnplanned, s)
	case avro.Array:
		items, ok := v.([]string)
		if !ok && v != nil {
			return errUnplanned
		}
		if deref(t.(*avro.ArraySchema).Items()).Type() != avro.String {
			return errUnplanned
		}
		if len(items) > 0 {
			w.long(int64(len(items)))
			for _, s := range items {
				w.str(s)
			}
		}
		w.long(0)
		return nil
	}
	return fmt.Errorf("%w: Avro type %s", errUnplanned, t.Type())
}

// integer converts the integer forms bus values take (float64 for numbers
// from JSON, int64 after date conversion) as cdc does: floats only when
// integral.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || x < -(1<<63) || x >= 1<<63 {
			return 0, false
		}
		return int64(x), true
	case time.Time:
		return x.UnixMilli(), true
	}
	return 0, false
}

// float converts numbers to float64.
func float(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}
