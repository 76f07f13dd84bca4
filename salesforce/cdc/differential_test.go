package cdc

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

// The differential tests check this package's hamba-based encoding against
// goavro, an independent Avro implementation, using the same schema JSON.

// differentialCases returns change events to check, with their schemas.
func differentialCases(t *testing.T) map[string]struct {
	s  *Schema
	ev *ChangeEvent
} {
	small := mustSchema(t, smallAccount())
	doc := mustSchema(t, docAccount())
	con := mustSchema(t, contact())
	nested, err := small.EncodeFields([]string{"Name", "BillingAddress.City", "BillingAddress.State", "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	many := make([]string, 250) // longer than hamba's default array block (100)
	for i := range many {
		many[i] = "001" + strings.Repeat("x", i%15)
	}
	return map[string]struct {
		s  *Schema
		ev *ChangeEvent
	}{
		"contact every type": {con, fullContact(t, con)},
		"account nested": {small, &ChangeEvent{
			Header: Header{EntityName: "Account", RecordIDs: []string{"001A"}, ChangeType: ChangeTypeUpdate, ChangedFields: nested, SequenceNumber: 2, CommitNumber: -1},
			Fields: map[string]any{"Name": "Acme", "Phone": "555", "BillingAddress": map[string]any{"City": "Paris", "State": "IDF", "Latitude": 0.0}},
		}},
		"gap overflow": {doc, &ChangeEvent{Header: Header{EntityName: "Account", RecordIDs: []string{"000000000000000AAA"}, ChangeType: ChangeTypeGapOverflow}}},
		"merged records": {doc, &ChangeEvent{
			Header: Header{EntityName: "Account", RecordIDs: many, ChangeType: ChangeTypeDelete, ChangeOrigin: "é ü 漢字"},
			Fields: map[string]any{"AnnualRevenue": 1e15, "NumberOfEmployees": int32(-2147483648), "CreatedDate": int64(-1)},
		}},
	}
}

func TestDifferential_GoavroDecodesEncode(t *testing.T) {
	t.Parallel()
	for name, tc := range differentialCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			payload, err := tc.s.Encode(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			codec, err := goavro.NewCodec(tc.s.JSON())
			if err != nil {
				t.Fatalf("goavro rejects the schema: %v", err)
			}
			native, rest, err := codec.NativeFromBinary(payload)
			if err != nil || len(rest) != 0 {
				t.Fatalf("goavro decode: %v (%d bytes left)", err, len(rest))
			}
			if got, want := plain(native), plain(eventMap(tc.ev)); !reflect.DeepEqual(got, want) {
				t.Fatalf("goavro decoded\n%#v\nwant\n%#v", got, want)
			}
			// And the other way: goavro's encoding of the same value is
			// byte-identical and decodes with Decode.
			theirs, err := codec.BinaryFromNative(nil, goavroNative(t, tc.s, tc.ev))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(theirs, payload) {
				t.Errorf("goavro bytes differ:\n%x\n%x", theirs, payload)
			}
			back, err := tc.s.Decode(theirs)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := plain(eventMap(back)), plain(eventMap(tc.ev)); !reflect.DeepEqual(got, want) {
				t.Fatalf("Decode of goavro bytes\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

func TestDifferential_PlatformEvent(t *testing.T) {
	t.Parallel()
	s := lowInk(t)
	ev := &PlatformEvent{Fields: map[string]any{
		"CreatedDate": int64(1491762700517), "CreatedById": "005D0000001cSZs", "Printer_Model__c": "XZO-5",
		"Ink_Percentage__c": 0.2, "Urgent__c": false,
	}}
	payload, err := s.EncodePlatform(ev)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(s.JSON())
	if err != nil {
		t.Fatal(err)
	}
	native, rest, err := codec.NativeFromBinary(payload)
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro decode: %v (%d bytes left)", err, len(rest))
	}
	if got, want := plain(native), plain(ev.Fields); !reflect.DeepEqual(got, want) {
		t.Fatalf("goavro decoded %#v, want %#v", got, want)
	}
}

// TestDifferential_GoavroAcceptsSchemas parses every derived schema with
// goavro.
func TestDifferential_GoavroAcceptsSchemas(t *testing.T) {
	t.Parallel()
	for _, s := range []*Schema{mustSchema(t, smallAccount()), mustSchema(t, docAccount()), mustSchema(t, contact()), lowInk(t)} {
		if _, err := goavro.NewCodec(s.JSON()); err != nil {
			t.Errorf("%s: %v", s.Name(), err)
		}
	}
}

// eventMap is ev as one record: the header under ChangeEventHeader.
func eventMap(ev *ChangeEvent) map[string]any {
	h := ev.Header
	m := map[string]any{HeaderField: map[string]any{
		"entityName": h.EntityName, "recordIds": h.RecordIDs, "changeType": string(h.ChangeType),
		"changeOrigin": h.ChangeOrigin, "transactionKey": h.TransactionKey, "sequenceNumber": h.SequenceNumber,
		"commitTimestamp": h.CommitTimestamp, "commitNumber": h.CommitNumber, "commitUser": h.CommitUser,
		"nulledFields": h.NulledFields, "diffFields": h.DiffFields, "changedFields": h.ChangedFields,
	}}
	for k, v := range ev.Fields {
		m[k] = v
	}
	return m
}

// plain normalises both sides for comparison, without knowing the schema:
// goavro's union maps ({"string": v}, {"com.sforce.eventbus.Address": {…}})
// are unwrapped, nulls dropped, numbers widened, string slices made []any.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				switch {
				case k == "string", k == "int", k == "long", k == "double", k == "float", k == "boolean", k == "bytes",
					strings.HasPrefix(k, Namespace+"."):
					return plain(e)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			if e != nil {
				out[k] = plain(e)
			}
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case nil:
		return []any{} // nil header arrays are encoded empty
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

// goavroNative builds goavro's native form of ev, wrapping union values in
// goavro.Union with the branch names taken from the schema.
func goavroNative(t *testing.T, s *Schema, ev *ChangeEvent) map[string]any {
	t.Helper()
	rec := s.Avro().(*avro.RecordSchema)
	h := ev.Header
	strs := func(a []string) []any {
		out := []any{}
		for _, e := range a {
			out = append(out, e)
		}
		return out
	}
	out := map[string]any{HeaderField: map[string]any{
		"entityName": h.EntityName, "recordIds": strs(h.RecordIDs), "changeType": string(h.ChangeType),
		"changeOrigin": h.ChangeOrigin, "transactionKey": h.TransactionKey, "sequenceNumber": h.SequenceNumber,
		"commitTimestamp": h.CommitTimestamp, "commitNumber": h.CommitNumber, "commitUser": h.CommitUser,
		"nulledFields": strs(h.NulledFields), "diffFields": strs(h.DiffFields), "changedFields": strs(h.ChangedFields),
	}}
	var wrap func(branch avro.Schema, v any) any
	wrap = func(branch avro.Schema, v any) any {
		if v == nil {
			return goavro.Union("null", nil)
		}
		branch = deref(branch)
		if r, ok := branch.(*avro.RecordSchema); ok {
			nested := map[string]any{}
			for _, f := range r.Fields() {
				nested[f.Name()] = wrap(f.Type().(*avro.UnionSchema).Types()[1], v.(map[string]any)[f.Name()])
			}
			return goavro.Union(r.FullName(), nested)
		}
		return goavro.Union(string(branch.Type()), v)
	}
	for _, f := range rec.Fields()[1:] {
		out[f.Name()] = wrap(f.Type().(*avro.UnionSchema).Types()[1], ev.Fields[f.Name()])
	}
	return out
}
