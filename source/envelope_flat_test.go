package source

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sfconnect/sfconnect/salesforce/cdc"
)

// testValue holds v as the flat decoder would.
func testValue(v any) cdc.Value {
	switch x := v.(type) {
	case bool:
		if x {
			return cdc.Value{Kind: cdc.ValueBool, Num: 1}
		}
		return cdc.Value{Kind: cdc.ValueBool}
	case int32:
		return cdc.Value{Kind: cdc.ValueInt, Num: uint64(int64(x))}
	case int64:
		return cdc.Value{Kind: cdc.ValueLong, Num: uint64(x)}
	case float32:
		return cdc.Value{Kind: cdc.ValueFloat, Num: math.Float64bits(float64(x))}
	case float64:
		return cdc.Value{Kind: cdc.ValueDouble, Num: math.Float64bits(x)}
	case string:
		return cdc.Value{Kind: cdc.ValueString, Str: x}
	case nil:
		return cdc.Value{}
	}
	return cdc.Value{Kind: cdc.ValueOther, Other: v}
}

// unranked marks hand-made fields as having no decoder rank.
func unranked(fs []cdc.FlatField) []cdc.FlatField {
	for i := range fs {
		fs[i].Rank = -1
	}
	return fs
}

// ranked gives hand-made fields the ranks the decoder would: positions
// in the sorted list of their distinct names.
func ranked(fs []cdc.FlatField) []cdc.FlatField {
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for i := range fs {
		fs[i].Rank, _ = slices.BinarySearch(names, fs[i].Name)
	}
	return fs
}

// flatEnvelope is a change envelope in flat form, as the Pub/Sub path
// builds it, and the same envelope with its fields as a map; rank says
// whether the fields carry decoder ranks.
func flatEnvelope(t *testing.T, rank bool) (flat, mapped *Envelope) {
	t.Helper()
	id := "001xx000003DGb2AAG"
	base := Envelope{
		EnvelopeVersion: EnvelopeVersion, Kind: KindChange, Entity: "Account", RecordID: &id, ChangeType: "UPDATE",
		ChangedFields: []string{"Name"}, NulledFields: []string{}, DiffFields: []string{},
		Channel: "/data/AccountChangeEvent", ReplayID: []byte{7}, DedupeKey: "k", ReceivedAt: time.Now(),
	}
	flat, mapped = &base, new(Envelope)
	*mapped = base
	// Payload order, not name order; M.k twice (map keys with dots can do
	// that): the last value wins, as in a map.
	order := unranked
	if rank {
		order = ranked
	}
	flat.flat = envelopeFields(order([]cdc.FlatField{
		{Name: "Name", Type: "string", Value: testValue("Acme <&>")},
		{Name: "BillingAddress.City", Type: "string", Value: testValue("Paris")},
		{Name: "M.k", Value: testValue(int32(1))},
		{Name: "CreatedDate", Type: "datetime", Value: testValue(int64(1_760_000_000_123))},
		{Name: "Birthdate", Type: "date", Value: testValue(int64(-86_400_000))},
		{Name: "AnnualRevenue", Type: "currency", Value: testValue(1.5e21)},
		{Name: "IsDeleted", Type: "boolean", Value: testValue(false)},
		{Name: "M.k", Value: testValue(int32(2))},
		{Name: "Blob", Value: testValue([]byte{0xAB})},
		{Name: "Far", Type: "datetime", Value: testValue(int64(400_000_000_000_000))},
		{Name: "F32", Type: "double", Value: testValue(float32(0.1))},
		{Name: "List", Value: testValue([]any{"a", int32(1)})},
		{Name: "Nil", Value: testValue(nil)},
	}))
	mapped.Fields = map[string]any{
		"Name": "Acme <&>", "BillingAddress.City": "Paris", "M.k": int64(2),
		"CreatedDate": "2025-10-09T08:53:20.123Z", "Birthdate": "1969-12-31",
		"AnnualRevenue": 1.5e21, "IsDeleted": false, "Blob": "ab",
		"Far": time.UnixMilli(400_000_000_000_000).UTC().Format("2006-01-02T15:04:05.000Z"),
		"F32": float64(float32(0.1)), "List": `["a",1]`, "Nil": nil,
	}
	return flat, mapped
}

// TestEnvelope_FlatForm_JSON: an envelope in flat form encodes to the
// bytes encoding/json gives for the same envelope with a map.
func TestEnvelope_FlatForm_JSON(t *testing.T) {
	t.Parallel()
	for _, rank := range []bool{true, false} {
		flat, mapped := flatEnvelope(t, rank)
		want, err := json.Marshal(mapped)
		if err != nil {
			t.Fatal(err)
		}
		got, err := JSONEncoder{}.Encode("topic", flat)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("flat form (ranked %v) encodes to\n%s (%v)\nwant\n%s", rank, got, err, want)
		}
	}
	flat, mapped := flatEnvelope(t, true)
	// The encoding/json fallback (a zone offset in seconds) sees the same
	// fields.
	flat.ReceivedAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 17*60+30))
	mapped.ReceivedAt = flat.ReceivedAt
	if JSONFastPath(flat) {
		t.Fatal("zone offset in seconds taken by the fast path")
	}
	want, err := json.Marshal(mapped)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := (JSONEncoder{}).Encode("topic", flat); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("fallback encodes to\n%s (%v)\nwant\n%s", got, err, want)
	}
	if v, ok := flat.field("M.k"); !ok || v != int64(2) {
		t.Fatalf("field(M.k) = %v, %v", v, ok)
	}
	if _, ok := flat.field("Missing"); ok {
		t.Fatal("field(Missing) found")
	}
	if m := flat.withFieldMap().Fields; len(m) != len(mapped.Fields) || m["Birthdate"] != "1969-12-31" {
		t.Fatalf("withFieldMap = %v", m)
	}
}

// TestEnvelope_FlatForm_FieldsWin: an envelope copied from a flat one and
// given Fields (a gap repair) writes those Fields.
func TestEnvelope_FlatForm_FieldsWin(t *testing.T) {
	t.Parallel()
	flat, _ := flatEnvelope(t, true)
	repaired := *flat
	repaired.Fields = map[string]any{"Rating": "Warm"}
	got, err := JSONEncoder{}.Encode("topic", &repaired)
	if err != nil || !bytes.Contains(got, []byte(`"fields":{"Rating":"Warm"}`)) {
		t.Fatalf("repaired envelope: %s, %v", got, err)
	}
	if v, ok := repaired.field("Rating"); !ok || v != "Warm" {
		t.Fatalf("field(Rating) = %v, %v", v, ok)
	}
}

// TestEnvelope_FlatForm_Avro: the Avro encoder writes the flat form's
// fields as it writes the map's.
func TestEnvelope_FlatForm_Avro(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewAvroEncoder(cl)
	if err != nil {
		t.Fatal(err)
	}
	flat, mapped := flatEnvelope(t, false)
	var got, want Envelope
	for _, c := range []struct {
		env *Envelope
		out *Envelope
	}{{flat, &got}, {mapped, &want}} {
		b, err := enc.Encode("topic", c.env)
		if err != nil {
			t.Fatal(err)
		}
		if err := avro.Unmarshal(enc.schema, b[5:], c.out); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got.Fields, want.Fields) || len(got.Fields) != len(mapped.Fields) {
		t.Fatalf("flat form's Avro fields %v, want %v", got.Fields, want.Fields)
	}
}

// TestAppendISO: dates and datetimes written by hand are what the layouts
// give, across the years (and outside 0-9999, where the layouts write them).
func TestAppendISO(t *testing.T) {
	t.Parallel()
	check := func(ms int64) {
		tm := time.UnixMilli(ms).UTC()
		if got, want := string(appendISO(nil, ms, true)), tm.Format(layoutDateTime); got != want {
			t.Fatalf("datetime %d: %s, want %s", ms, got, want)
		}
		if got, want := string(appendISO(nil, ms, false)), tm.Format(layoutDate); got != want {
			t.Fatalf("date %d: %s, want %s", ms, got, want)
		}
	}
	for _, ms := range []int64{0, -1, 1, 999, 1_760_000_000_123, -62_135_596_800_000, -62_135_596_800_001,
		253_402_300_799_999, 253_402_300_800_000, math.MaxInt64 / 1000, math.MinInt64 / 1000, 951_782_400_000} {
		check(ms)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(r.Int64N(600_000_000_000_000) - 300_000_000_000_000)
	}
}
