package cdc

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/hamba/avro/v2"
)

// Limits of the binary decoder, which reads untrusted payloads.
const (
	// maxItems bounds the elements of one array or map. A Salesforce event
	// message is at most 1 MB (protocol reference §3) and every real element
	// takes at least one byte; the bound also stops block counts of
	// zero-byte items (nulls) from spinning.
	maxItems = 1 << 20
	// maxDepth bounds nesting. Salesforce schemas nest three deep (event,
	// compound, component); a recursive foreign schema must not let a
	// hostile payload exhaust the stack.
	maxDepth = 64
	// maxFixed bounds the size of an Avro fixed a parsed schema may declare.
	maxFixed = 1 << 20
)

// readValue decodes one value of type t with hamba's Reader primitives,
// walking the schema itself. hamba's reflection-based decoder is not used
// for payloads: in v2.31.0 a block count of math.MinInt64 makes it set a
// negative slice length and write outside the slice, which is memory
// corruption, not an error. Values come out in this package's types (see
// the package doc); null record fields are left out of records.
func readValue(r *avro.Reader, t avro.Schema, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nesting too deep")
	}
	t = deref(t)
	var v any
	switch t.Type() {
	case avro.Null:
		return nil, nil
	case avro.Boolean:
		v = r.ReadBool()
	case avro.Int:
		v = r.ReadInt()
	case avro.Long:
		v = r.ReadLong()
	case avro.Float:
		v = r.ReadFloat()
	case avro.Double:
		v = r.ReadDouble()
	case avro.String:
		v = r.ReadString()
	case avro.Bytes:
		v = r.ReadBytes()
	case avro.Enum:
		symbols := t.(*avro.EnumSchema).Symbols()
		i := r.ReadInt()
		if r.Error == nil && (i < 0 || int(i) >= len(symbols)) {
			return nil, fmt.Errorf("enum index %d out of range", i)
		}
		if r.Error == nil {
			v = symbols[i]
		}
	case avro.Fixed:
		n := t.(*avro.FixedSchema).Size()
		if n < 0 || n > maxFixed {
			return nil, fmt.Errorf("fixed size %d not supported", n)
		}
		b := make([]byte, n)
		r.Read(b)
		v = b
	case avro.Array:
		items := t.(*avro.ArraySchema).Items()
		out := []any{}
		err := readBlocks(r, func() error {
			e, err := readValue(r, items, depth+1)
			if err != nil {
				return fmt.Errorf("[%d]: %w", len(out), err)
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
		v = out
	case avro.Map:
		values := t.(*avro.MapSchema).Values()
		out := map[string]any{}
		err := readBlocks(r, func() error {
			k := r.ReadString()
			if r.Error != nil {
				return nil
			}
			e, err := readValue(r, values, depth+1)
			if err != nil {
				return fmt.Errorf("[%q]: %w", k, err)
			}
			out[k] = e
			return nil
		})
		if err != nil {
			return nil, err
		}
		v = out
	case avro.Record:
		out := map[string]any{}
		for _, f := range t.(*avro.RecordSchema).Fields() {
			e, err := readValue(r, f.Type(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name(), err)
			}
			if e != nil {
				out[f.Name()] = e
			}
		}
		v = out
	case avro.Union:
		types := t.(*avro.UnionSchema).Types()
		i := r.ReadLong()
		if r.Error == nil && (i < 0 || i >= int64(len(types))) {
			return nil, fmt.Errorf("union index %d out of range", i)
		}
		if r.Error == nil {
			return readValue(r, types[i], depth+1)
		}
	default:
		return nil, fmt.Errorf("avro type %s not supported", t.Type())
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return v, nil
}

// readBlocks reads the blocks of an array or map, calling item once per
// element. A negative block count is followed by the block's byte size,
// which is read and ignored.
func readBlocks(r *avro.Reader, item func() error) error {
	total := int64(0)
	for {
		n := r.ReadLong()
		if r.Error != nil {
			return r.Error
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return errors.New("invalid block count")
			}
			n = -n
			if size := r.ReadLong(); r.Error == nil && size < 0 {
				return errors.New("negative block size " + strconv.FormatInt(size, 10))
			}
		}
		if n > maxItems-total {
			return fmt.Errorf("more than %d items", maxItems)
		}
		total += n
		for ; n > 0; n-- {
			if err := item(); err != nil {
				return err
			}
			if r.Error != nil {
				return r.Error
			}
		}
	}
}
