package cdc

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
)

// toAvro checks a Go value against an Avro type and converts it to the form
// hamba's generic encoder takes: int32, int64, float32, float64, string,
// bool, []byte, []any, map[string]any for records and maps, and
// map[string]any{branch name: value} for unions. path names the value in
// errors.
func toAvro(t avro.Schema, v any, path string) (any, error) {
	return toAvroDepth(t, v, path, 0)
}

// toAvroDepth is toAvro at nesting depth; see maxDepth.
func toAvroDepth(t avro.Schema, v any, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, invalid(path, "nesting too deep")
	}
	t = deref(t)
	switch t.Type() {
	case avro.Null:
		if v != nil {
			return nil, invalid(path, "want null, got %T", v)
		}
		return nil, nil
	case avro.Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, invalid(path, "want bool, got %T", v)
	case avro.Int:
		n, err := toInt(v, math.MinInt32, math.MaxInt32)
		if err != nil {
			return nil, invalid(path, "want int: %v", err)
		}
		return int32(n), nil
	case avro.Long:
		if tm, ok := v.(time.Time); ok {
			return tm.UnixMilli(), nil
		}
		n, err := toInt(v, math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, invalid(path, "want long: %v", err)
		}
		return n, nil
	case avro.Float:
		f, err := toFloat(v)
		if err != nil {
			return nil, invalid(path, "want float: %v", err)
		}
		return float32(f), nil
	case avro.Double:
		f, err := toFloat(v)
		if err != nil {
			return nil, invalid(path, "want double: %v", err)
		}
		return f, nil
	case avro.String:
		if str, ok := stringValue(v); ok {
			return str, nil
		}
		return nil, invalid(path, "want string, got %T", v)
	case avro.Bytes:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
		return nil, invalid(path, "want []byte, got %T", v)
	case avro.Enum:
		str, ok := stringValue(v)
		if !ok {
			return nil, invalid(path, "want enum symbol string, got %T", v)
		}
		if !slices.Contains(t.(*avro.EnumSchema).Symbols(), str) {
			return nil, invalid(path, "unknown enum symbol %q", str)
		}
		return str, nil
	case avro.Array:
		items := t.(*avro.ArraySchema).Items()
		rv := reflect.ValueOf(v)
		if v == nil || rv.Kind() != reflect.Slice {
			if v == nil {
				return []any{}, nil
			}
			return nil, invalid(path, "want slice, got %T", v)
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := toAvroDepth(items, rv.Index(i).Interface(), path+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case avro.Map:
		values := t.(*avro.MapSchema).Values()
		m, ok := v.(map[string]any)
		if !ok {
			return nil, invalid(path, "want map[string]any, got %T", v)
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := toAvroDepth(values, e, path+"["+strconv.Quote(k)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, invalid(path, "want map[string]any, got %T", v)
		}
		return recordToAvro(t.(*avro.RecordSchema), m, path, depth+1)
	case avro.Union:
		return unionToAvro(t.(*avro.UnionSchema), v, path, depth+1)
	default:
		return nil, invalid(path, "Avro type %s is not supported", t.Type())
	}
}

// recordToAvro converts a record given as field name -> value. Missing keys
// and nil values are null; they are an error for fields that cannot be null.
func recordToAvro(rec *avro.RecordSchema, m map[string]any, path string, depth int) (map[string]any, error) {
	known := make(map[string]bool, len(rec.Fields()))
	out := make(map[string]any, len(rec.Fields()))
	for _, f := range rec.Fields() {
		known[f.Name()] = true
		fp := join(path, f.Name())
		v := m[f.Name()]
		if v == nil && !nullable(f.Type()) {
			return nil, invalid(fp, "required field is missing")
		}
		c, err := toAvroDepth(f.Type(), v, fp, depth)
		if err != nil {
			return nil, err
		}
		out[f.Name()] = c
	}
	for _, k := range sortedKeys(m) {
		if !known[k] {
			return nil, fmt.Errorf("%s: %w", join(path, k), ErrUnknownField)
		}
	}
	return out, nil
}

// unionToAvro picks the first branch that takes v (null for nil).
func unionToAvro(u *avro.UnionSchema, v any, path string, depth int) (any, error) {
	var firstErr error
	for _, b := range u.Types() {
		if (v == nil) != (deref(b).Type() == avro.Null) {
			continue
		}
		c, err := toAvroDepth(b, v, path, depth)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return map[string]any{unionBranchName(b): c}, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, invalid(path, "no union branch takes %T", v)
}

// fromAvro converts what toAvro produced for type t back into this
// package's value types, as decoding the encoded value would give them:
// unions unwrapped, records and maps as map[string]any with null record
// fields left out. Values of the wrong Go type are an error.
func fromAvro(t avro.Schema, v any) (any, error) {
	t = deref(t)
	switch t.Type() {
	case avro.Null:
		return nil, nil
	case avro.Int:
		if n, ok := v.(int32); ok {
			return n, nil
		}
	case avro.Long:
		if n, ok := v.(int64); ok {
			return n, nil
		}
	case avro.Array:
		items := t.(*avro.ArraySchema).Items()
		a, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(a))
		for i, e := range a {
			c, err := fromAvro(items, e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case avro.Map:
		values := t.(*avro.MapSchema).Values()
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := fromAvro(values, e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		for _, f := range t.(*avro.RecordSchema).Fields() {
			c, err := fromAvro(f.Type(), m[f.Name()])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name(), err)
			}
			if c != nil {
				out[f.Name()] = c
			}
		}
		return out, nil
	case avro.Union:
		if v == nil {
			return nil, nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			break
		}
		for name, e := range m {
			for _, b := range t.(*avro.UnionSchema).Types() {
				if unionBranchName(b) == name {
					return fromAvro(b, e)
				}
			}
		}
	case avro.Boolean:
		if _, ok := v.(bool); ok {
			return v, nil
		}
	case avro.Float:
		if _, ok := v.(float32); ok {
			return v, nil
		}
	case avro.Double:
		if _, ok := v.(float64); ok {
			return v, nil
		}
	case avro.String, avro.Enum:
		if _, ok := v.(string); ok {
			return v, nil
		}
	case avro.Bytes:
		if _, ok := v.([]byte); ok {
			return v, nil
		}
	default:
		// Fixed, and logical types of foreign schemas: kept as hamba
		// decodes them.
		return v, nil
	}
	return nil, fmt.Errorf("decoded %T for Avro %s", v, t.Type())
}

// unionBranchName is the key hamba uses for a union branch in its map form:
// the full name of named types, else the type (with its logical type).
func unionBranchName(t avro.Schema) string {
	t = deref(t)
	if n, ok := t.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(t.Type())
	if l, ok := t.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

// nullable reports whether t is null or a union with a null branch.
func nullable(t avro.Schema) bool {
	t = deref(t)
	if t.Type() == avro.Null {
		return true
	}
	if u, ok := t.(*avro.UnionSchema); ok {
		for _, b := range u.Types() {
			if b.Type() == avro.Null {
				return true
			}
		}
	}
	return false
}

// toInt converts Go integers, integral floats and json.Number to an int64
// within [lo, hi].
func toInt(v any, lo, hi int64) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, fmt.Errorf("%d out of range", x)
		}
		n = int64(x)
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d out of range", x)
		}
		n = int64(x)
	case float32:
		return toInt(float64(x), lo, hi)
	case float64:
		// 2^63 is the first float64 above MaxInt64.
		if x != math.Trunc(x) || x < -(1<<63) || x >= 1<<63 {
			return 0, fmt.Errorf("%v is not an integer in range", x)
		}
		n = int64(x)
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return 0, err
		}
		n = i
	default:
		return 0, fmt.Errorf("got %T", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range", n)
	}
	return n, nil
}

// toFloat converts Go numbers and json.Number to a float64.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	}
	n, err := toInt(v, math.MinInt64, math.MaxInt64)
	if err != nil {
		return 0, err
	}
	return float64(n), nil
}

// stringValue accepts strings and named string types (such as ChangeType).
func stringValue(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

// invalid builds an ErrInvalidValue error for the value at path.
func invalid(path, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", path, ErrInvalidValue, fmt.Sprintf(format, args...))
}

// join builds a dotted value path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// sortedKeys returns the keys of m in order, for deterministic errors.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
