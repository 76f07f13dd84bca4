package cdc

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t testing.TB, avroJSON string) *Schema {
	t.Helper()
	s, err := ParseSchema(avroJSON)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flattenDecoded is what DecodeFlat must give, computed from Decode's
// nested maps: records and maps flattened under dotted names, each name
// typed by the schema's top-level fields and compound components.
func flattenDecoded(s *Schema, fields map[string]any) map[string]FlatField {
	types := map[string]string{}
	for _, f := range s.Fields() {
		types[f.Name] = f.Type
		for _, c := range f.Components {
			types[f.Name+"."+c.Name] = c.Type
		}
	}
	out := map[string]FlatField{}
	var put func(prefix string, m map[string]any)
	put = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			if nested, ok := v.(map[string]any); ok {
				put(name, nested)
				continue
			}
			out[name] = FlatField{Name: name, Type: types[name], Value: valueOf(v)}
		}
	}
	put("", fields)
	return out
}

// sameFlat fails unless flat holds exactly want, each name once. Values
// are compared by their Go type and syntax, so that a decoded NaN equals
// itself.
func sameFlat(t *testing.T, flat []FlatField, want map[string]FlatField) {
	t.Helper()
	// Ranks order names as byte order does.
	for _, a := range flat {
		for _, b := range flat {
			if a.Rank < 0 || b.Rank < 0 {
				continue
			}
			if (a.Rank < b.Rank) != (a.Name < b.Name) || (a.Rank == b.Rank) != (a.Name == b.Name) {
				t.Fatalf("ranks %s %d, %s %d disagree with the names' order", a.Name, a.Rank, b.Name, b.Rank)
			}
		}
	}
	got := map[string]FlatField{}
	for _, f := range flat {
		if _, dup := got[f.Name]; dup {
			t.Fatalf("%s appears twice in %v", f.Name, flat)
		}
		got[f.Name] = f
	}
	if len(got) != len(want) {
		t.Fatalf("flat fields\n%v\nwant\n%v", flat, want)
	}
	for name, w := range want {
		g, ok := got[name]
		gv, wv := g.Value.Interface(), w.Value.Interface()
		if !ok || g.Type != w.Type || fmt.Sprintf("%T %#v", gv, gv) != fmt.Sprintf("%T %#v", wv, wv) {
			t.Fatalf("%s: got %#v, want %#v", name, g, w)
		}
	}
}

// checkFlatAgrees decodes payload both ways and fails unless DecodeFlat (or
// DecodePlatformFlat) agrees with Decode (or DecodePlatform) flattened,
// errors included.
func checkFlatAgrees(t *testing.T, s *Schema, payload []byte) {
	t.Helper()
	if s.Kind() == KindPlatformEvent {
		ev, err := s.DecodePlatform(payload)
		flat, flatErr := s.DecodePlatformFlat(payload, make([]FlatField, 3))
		if fmt.Sprint(err) != fmt.Sprint(flatErr) {
			t.Fatalf("DecodePlatform error %v, DecodePlatformFlat error %v", err, flatErr)
		}
		if err == nil {
			sameFlat(t, flat, flattenDecoded(s, ev.Fields))
		}
		return
	}
	ev, err := s.Decode(payload)
	fc := FlatChange{Fields: make([]FlatField, 3)} // reused: truncated first
	flatErr := s.DecodeFlat(payload, &fc)
	if fmt.Sprint(err) != fmt.Sprint(flatErr) {
		t.Fatalf("Decode error %v, DecodeFlat error %v", err, flatErr)
	}
	if err != nil {
		return
	}
	if !reflect.DeepEqual(fc.Header, ev.Header) {
		t.Fatalf("header %#v, want %#v", fc.Header, ev.Header)
	}
	sameFlat(t, fc.Fields, flattenDecoded(s, ev.Fields))
}

func TestSchema_DecodeFlat_SameAsDecode(t *testing.T) {
	t.Parallel()
	for name, tc := range differentialCases(t) {
		t.Run(name, func(t *testing.T) {
			payload, err := tc.s.Encode(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			checkFlatAgrees(t, tc.s, payload)
			for n := range payload { // every truncation fails alike
				checkFlatAgrees(t, tc.s, payload[:n])
			}
		})
	}
	con := mustSchema(t, contact())
	payload, err := con.Encode(fullContact(t, con))
	if err != nil {
		t.Fatal(err)
	}
	var fc FlatChange
	if err := con.DecodeFlat(payload, &fc); err != nil {
		t.Fatal(err)
	}
	// The compound's components arrive flattened and typed.
	want := map[string]string{"MailingAddress.City": "string", "Name.FirstName": "string", "Birthdate": "date", "Geo__c.Latitude": "double"}
	for _, f := range fc.Fields {
		if typ, ok := want[f.Name]; ok {
			if f.Type != typ {
				t.Errorf("%s: type %q, want %q", f.Name, f.Type, typ)
			}
			delete(want, f.Name)
		}
	}
	if len(want) != 0 {
		t.Errorf("missing %v in %v", want, fc.Fields)
	}
	if _, err := con.DecodePlatformFlat(payload, nil); err == nil {
		t.Error("DecodePlatformFlat took a change event schema")
	}
}

// encodableForeign is foreignSchema without its fixed field, which Encode
// does not write; DecodeFlat reads fixed as Decode does (the fuzz test
// feeds it).
var encodableForeign = strings.Replace(foreignSchema, `{"name":"X","type":{"type":"fixed","name":"Four","size":4}},`, "", 1)

// looseHeader is a change event schema whose header types differ from the
// derived schema's (a nullable name, an int commit number, a long sequence
// number, a field headerFrom does not know): its header is decoded
// generically. longSequence differs only in having a plain string name, so
// its header is decoded typed; both can carry a sequence number beyond
// int32.
var (
	looseHeader = `{"type":"record","name":"LooseChangeEvent","fields":[
  {"name":"ChangeEventHeader","type":{"type":"record","name":"ChangeEventHeader","fields":[
    {"name":"entityName","type":["null","string"]},{"name":"recordIds","type":{"type":"array","items":"string"}},
    {"name":"changeType","type":"string"},{"name":"extra","type":["null","int"]},{"name":"commitNumber","type":"int"},
    {"name":"sequenceNumber","type":"long"}]}},
  {"name":"Name","type":["null","string"]}]}`
	longSequence = strings.Replace(looseHeader, `{"name":"entityName","type":["null","string"]}`, `{"name":"entityName","type":"string"}`, 1)
)

func TestSchema_DecodeFlat_LooseHeader(t *testing.T) {
	t.Parallel()
	if mustSchema(t, smallAccount()).flatPlan().header == nil {
		t.Fatal("the derived schema's header is not decoded typed")
	}
	for _, c := range []struct {
		schema string
		typed  bool
	}{{looseHeader, false}, {longSequence, true}} {
		s := mustParse(t, c.schema)
		if s.Kind() != KindChangeEvent || (s.flatPlan().header != nil) != c.typed {
			t.Fatalf("kind %v, typed header plan %v", s.Kind(), s.flatPlan().header)
		}
		for _, seq := range []int64{7, 1 << 40, -1 << 40} {
			// entityName "Thing", recordIds ["a0B"], changeType "CREATE",
			// extra null, commitNumber 3, sequenceNumber seq; Name "n".
			var payload []byte
			if !c.typed {
				payload = append(payload, 0x02) // union branch string
			}
			payload = append(payload, 0x0a, 'T', 'h', 'i', 'n', 'g', 0x02, 0x06, 'a', '0', 'B', 0x00,
				0x0c, 'C', 'R', 'E', 'A', 'T', 'E', 0x00, 0x06)
			payload = append(append(payload, zigzag(seq)...), 0x02, 0x02, 'n')
			checkFlatAgrees(t, s, payload)
			var fc FlatChange
			err := s.DecodeFlat(payload, &fc)
			if (seq == 7) != (err == nil) || (err == nil && fc.Header.SequenceNumber != 7) {
				t.Fatalf("sequence number %d: %v, %d", seq, err, fc.Header.SequenceNumber)
			}
		}
	}
}

// zigzag is the Avro encoding of a long.
func zigzag(n int64) []byte {
	u := uint64(n<<1) ^ uint64(n>>63)
	var out []byte
	for u >= 0x80 {
		out = append(out, byte(u)|0x80)
		u >>= 7
	}
	return append(out, byte(u))
}

// TestSchema_DecodeFlat_Foreign covers what Salesforce schemas do not
// have: maps (null values kept), arrays, fixed, recursion below the
// compiled depth, and the depth limit.
func TestSchema_DecodeFlat_Foreign(t *testing.T) {
	t.Parallel()
	s, err := ParseSchema(encodableForeign)
	if err != nil || len(s.Fields()) != len(mustParse(t, foreignSchema).Fields())-1 {
		t.Fatalf("%v %v", err, s.Fields())
	}
	next := map[string]any{"v": int32(9)}
	for range flatCompileDepth + 3 {
		next = map[string]any{"v": int32(1), "next": next}
	}
	payload, err := s.EncodePlatform(&PlatformEvent{Fields: map[string]any{
		"CreatedDate": int64(5), "F": float32(1.5), "B": []byte{0, 1}, "E": "GREEN",
		"M": map[string]any{"a": int32(1), "b": nil}, "L": next, "A": []any{map[string]any{"v": int32(3)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkFlatAgrees(t, s, payload)
	flat, err := s.DecodePlatformFlat(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]any{}
	for _, f := range flat {
		byName[f.Name] = f.Value.Interface()
	}
	if v, ok := byName["M.b"]; !ok || v != nil {
		t.Errorf("null map value M.b: %v, %v", v, ok)
	}
	deep := "L"
	for range flatCompileDepth + 3 {
		deep += ".next"
	}
	if byName[deep+".v"] != int32(9) {
		t.Errorf("%s.v = %v in %v", deep, byName[deep+".v"], byName)
	}
	for n := range payload {
		checkFlatAgrees(t, s, payload[:n])
	}
}

// FuzzSchema_DecodeFlat feeds arbitrary payloads to both decoders: they
// must agree on every value and every error, and never panic.
func FuzzSchema_DecodeFlat(f *testing.F) {
	con := mustSchema(f, contact())
	small := mustSchema(f, smallAccount())
	parsed, err := ParseSchema(con.JSON())
	if err != nil {
		f.Fatal(err)
	}
	foreign, err := ParseSchema(encodableForeign)
	if err != nil {
		f.Fatal(err)
	}
	schemas := []*Schema{con, small, parsed, lowInk(f), foreign, mustParse(f, foreignSchema), mustParse(f, looseHeader), mustParse(f, longSequence)}
	b, err := con.Encode(fullContact(f, con))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), b)
	f.Add(uint8(2), b)
	b, err = small.Encode(&ChangeEvent{
		Header: Header{ChangeType: ChangeTypeUpdate, RecordIDs: []string{"001"}, ChangedFields: []string{"0x22", "4-0x06"}},
		Fields: map[string]any{"Name": "Acme", "BillingAddress": map[string]any{"City": "Paris"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(1), b)
	b, err = foreign.EncodePlatform(&PlatformEvent{Fields: map[string]any{
		"CreatedDate": int64(1), "F": float32(2), "B": []byte("x"), "E": "RED",
		"M": map[string]any{"k": nil}, "L": map[string]any{"v": int32(1), "next": map[string]any{"v": int32(2)}}, "A": []any{},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(4), b)
	f.Add(uint8(3), []byte{0x02, 0x00})
	f.Add(uint8(5), []byte{0x02, 0, 0, 0, 0, 0, 0x02, 'x', 0x02, 'a', 'b', 'c', 'd', 0x01, 0x02, 0x02, 'k', 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		checkFlatAgrees(t, schemas[int(which)%len(schemas)], payload)
	})
}

func TestValue_Interface(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, true, false, int32(-7), int32(math.MaxInt32), int64(math.MinInt64), float32(-1.25),
		float32(math.MaxFloat32), 2.5e300, "", "é", []byte{1}, []any{"a"}} {
		got := valueOf(v).Interface()
		if fmt.Sprintf("%T %#v", got, got) != fmt.Sprintf("%T %#v", v, v) {
			t.Errorf("valueOf(%T %#v).Interface() = %T %#v", v, v, got, got)
		}
	}
	if k := valueOf(int32(1)).Kind; k != ValueInt {
		t.Errorf("int32 kind %d", k)
	}
}
