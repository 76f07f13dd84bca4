package cdc

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// header returns a realistic UPDATE header; bitmaps are for s.
func header(t testing.TB, s *Schema, changed, nulled []string) Header {
	t.Helper()
	c, err := s.EncodeFields(changed)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.EncodeFields(nulled)
	if err != nil {
		t.Fatal(err)
	}
	return Header{
		EntityName:      "Contact",
		RecordIDs:       []string{"0035f00000ABCDEAAA"},
		ChangeType:      ChangeTypeUpdate,
		ChangeOrigin:    "com/salesforce/api/rest/61.0;client=sfconnect",
		TransactionKey:  "0001ade9-3f74-0b99-dbc4-42e73424b774",
		SequenceNumber:  1,
		CommitTimestamp: 1712694387000,
		CommitNumber:    math.MaxInt64 - 7, // beyond 2^53, as the doc warns
		CommitUser:      "0055f000005mc66AAA",
		NulledFields:    n,
		DiffFields:      []string{},
		ChangedFields:   c,
	}
}

// fullContact is an event with a value of every type, in canonical Go types.
func fullContact(t testing.TB, s *Schema) *ChangeEvent {
	return &ChangeEvent{
		Header: header(t, s, []string{"Name.FirstName", "Phone", "LastModifiedDate"}, []string{"Email"}),
		Fields: map[string]any{
			"AccountId":        "0015f00002J9YaUAAV",
			"Name":             map[string]any{"FirstName": "Ada", "LastName": "Lovelace"},
			"MailingAddress":   map[string]any{"Street": "1 Main St\nSuite 2", "City": "Paris", "Latitude": 48.8566, "Longitude": 2.3522},
			"OtherAddress":     map[string]any{},
			"Phone":            "+33 1 23 45 67 89",
			"Birthdate":        time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC).UnixMilli(), // before the epoch
			"Best_Time__c":     int64(9*3600*1000 + 30*60*1000),
			"DoNotCall":        false,
			"Visits__c":        int32(-3),
			"Big__c":           int64(math.MinInt64),
			"Share__c":         0.25,
			"Tags__c":          "a;b",
			"Geo__c":           map[string]any{"Latitude": -33.8688, "Longitude": 151.2093},
			"LastModifiedDate": int64(1712694387123),
		},
	}
}

func TestSchema_Encode_RoundTrip(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	ev := fullContact(t, s)
	b, err := s.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ev) {
		t.Fatalf("round trip\n got %#v\nwant %#v", got, ev)
	}
	// A schema parsed from the JSON decodes the same bytes the same way.
	p, err := ParseSchema(s.JSON())
	if err != nil {
		t.Fatal(err)
	}
	pgot, err := p.Decode(b)
	if err != nil || !reflect.DeepEqual(pgot, ev) {
		t.Fatalf("parsed schema decode = %#v, %v", pgot, err)
	}
	again, err := p.Encode(got)
	if err != nil || string(again) != string(b) {
		t.Fatalf("parsed schema re-encode differs: %v", err)
	}
}

func TestSchema_Encode_GapEvent(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	ev := &ChangeEvent{Header: Header{
		EntityName: "Account", RecordIDs: []string{"000000000000000AAA"}, ChangeType: ChangeTypeGapOverflow,
		TransactionKey: "k", SequenceNumber: 100001, CommitTimestamp: 1, CommitNumber: 2, CommitUser: "u",
	}}
	b, err := s.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	ev.Header.NulledFields, ev.Header.DiffFields, ev.Header.ChangedFields = []string{}, []string{}, []string{}
	ev.Fields = map[string]any{}
	if !reflect.DeepEqual(got, ev) {
		t.Fatalf("got %#v\nwant %#v", got, ev)
	}
	// Header-only JSON has empty arrays, not nulls.
	j, _ := json.Marshal(got.Header)
	if !strings.Contains(string(j), `"changedFields":[]`) || !strings.Contains(string(j), `"changeType":"GAP_OVERFLOW"`) {
		t.Fatalf("header JSON = %s", j)
	}
}

// TestSchema_Encode_Coercions checks the Go types Encode accepts besides the
// canonical ones, and what they decode to.
func TestSchema_Encode_Coercions(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	when := time.Date(2024, 4, 9, 20, 26, 27, 0, time.FixedZone("x", 3600))
	ev := &ChangeEvent{Header: header(t, s, nil, nil), Fields: map[string]any{
		"Visits__c":        float64(12), // JSON numbers
		"Big__c":           json.Number("-9007199254740993"),
		"Share__c":         7,    // an int for a double
		"LastModifiedDate": when, // time.Time for a long
		"Birthdate":        uint16(0),
		"Phone":            nil, // same as absent
		"Geo__c":           map[string]any{"Latitude": float32(1.5), "Longitude": nil},
		"Name":             map[string]any{"FirstName": ChangeType("named string type")},
	}}
	b, err := s.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Visits__c": int32(12), "Big__c": int64(-9007199254740993), "Share__c": 7.0,
		"LastModifiedDate": when.UnixMilli(), "Birthdate": int64(0),
		"Geo__c": map[string]any{"Latitude": 1.5}, "Name": map[string]any{"FirstName": "named string type"},
	}
	if !reflect.DeepEqual(got.Fields, want) {
		t.Fatalf("got %#v\nwant %#v", got.Fields, want)
	}
}

func TestSchema_Encode_Errors(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	ok := func() *ChangeEvent {
		return &ChangeEvent{Header: header(t, s, []string{"Phone"}, nil), Fields: map[string]any{}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(ev *ChangeEvent)
		want   error
	}{
		{"unknown field", func(ev *ChangeEvent) { ev.Fields["Nope"] = "x" }, ErrUnknownField},
		{"excluded field", func(ev *ChangeEvent) { ev.Fields["Id"] = "x" }, ErrUnknownField},
		{"header as field", func(ev *ChangeEvent) { ev.Fields[HeaderField] = map[string]any{} }, ErrUnknownField},
		{"unknown component", func(ev *ChangeEvent) { ev.Fields["Geo__c"] = map[string]any{"Altitude": 1.0} }, ErrUnknownField},
		{"string for int", func(ev *ChangeEvent) { ev.Fields["Visits__c"] = "3" }, ErrInvalidValue},
		{"int overflow", func(ev *ChangeEvent) { ev.Fields["Visits__c"] = int64(math.MaxInt32) + 1 }, ErrInvalidValue},
		{"fraction for int", func(ev *ChangeEvent) { ev.Fields["Visits__c"] = 1.5 }, ErrInvalidValue},
		{"NaN for long", func(ev *ChangeEvent) { ev.Fields["Big__c"] = math.NaN() }, ErrInvalidValue},
		{"uint64 overflow", func(ev *ChangeEvent) { ev.Fields["Big__c"] = uint64(math.MaxUint64) }, ErrInvalidValue},
		{"int for string", func(ev *ChangeEvent) { ev.Fields["Phone"] = 5 }, ErrInvalidValue},
		{"string for bool", func(ev *ChangeEvent) { ev.Fields["DoNotCall"] = "true" }, ErrInvalidValue},
		{"scalar for compound", func(ev *ChangeEvent) { ev.Fields["Name"] = "Ada Lovelace" }, ErrInvalidValue},
		{"bad change type", func(ev *ChangeEvent) { ev.Header.ChangeType = "MERGE" }, ErrInvalidValue},
		{"empty change type", func(ev *ChangeEvent) { ev.Header.ChangeType = "" }, ErrInvalidValue},
		{"bad changedFields", func(ev *ChangeEvent) { ev.Header.ChangedFields = []string{"0xFFFFFF"} }, ErrInvalidBitmap},
		{"bad nulledFields", func(ev *ChangeEvent) { ev.Header.NulledFields = []string{"Phone"} }, ErrInvalidBitmap},
		{"bad diffFields", func(ev *ChangeEvent) { ev.Header.DiffFields = []string{"0x00", "1-0x01"} }, ErrInvalidBitmap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := ok()
			tc.mutate(ev)
			if _, err := s.Encode(ev); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := s.Encode(nil); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("nil event: %v", err)
	}
	if _, err := lowInk(t).Encode(ok()); !errors.Is(err, ErrWrongKind) {
		t.Errorf("platform schema: %v", err)
	}
}

func TestSchema_Decode_Errors(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, contact())
	b, err := s.Encode(fullContact(t, s))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"truncated by one", b[:len(b)-1]},
		{"half", b[:len(b)/2]},
		{"trailing byte", append(append([]byte{}, b...), 0)},
		{"bad union index", append(append([]byte{}, b[:len(b)-9]...), 0x7F, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"huge string length", []byte{0xFE, 0xFF, 0xFF, 0xFF, 0x0F}},
		{"negative string length", []byte{0x01}},
		{"huge array", []byte{0x00, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F}},
		// Block count math.MinInt64, byte size 0, then a block of one
		// element: hamba v2.31.0's own array decoder writes out of bounds
		// on this; readValue must reject it.
		{"min int64 block count", []byte{0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x02, 0x02, 'x', 0x00}},
		{"negative block size", []byte{0x00, 0x01, 0x01, 0x02, 'x', 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if ev, err := s.Decode(tc.payload); !errors.Is(err, ErrMalformedPayload) {
				t.Fatalf("Decode = %#v, %v; want ErrMalformedPayload", ev, err)
			}
		})
	}
	if _, err := lowInk(t).Decode(b); !errors.Is(err, ErrWrongKind) {
		t.Errorf("platform schema: %v", err)
	}
}

func TestSchema_EncodePlatform_RoundTrip(t *testing.T) {
	t.Parallel()
	s := lowInk(t)
	ev := &PlatformEvent{Fields: map[string]any{
		"CreatedDate": int64(1491762700517), "CreatedById": "005D0000001cSZs",
		"Printer_Model__c": "XZO-5", "Ink_Percentage__c": 0.2, "Count__c": int32(3), "Urgent__c": true,
	}}
	b, err := s.EncodePlatform(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DecodePlatform(b)
	if err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("round trip = %#v, %v", got, err)
	}
	for name, fields := range map[string]map[string]any{
		"no CreatedDate":   {"CreatedById": "005"},
		"no CreatedById":   {"CreatedDate": int64(1)},
		"null CreatedById": {"CreatedDate": int64(1), "CreatedById": nil},
		"EventUuid":        {"CreatedDate": int64(1), "CreatedById": "005", "EventUuid": "x"},
	} {
		if _, err := s.EncodePlatform(&PlatformEvent{Fields: fields}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := s.DecodePlatform(b[:3]); !errors.Is(err, ErrMalformedPayload) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := s.EncodePlatform(nil); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("nil: %v", err)
	}
	if _, err := mustSchema(t, contact()).EncodePlatform(ev); !errors.Is(err, ErrWrongKind) {
		t.Errorf("change event schema: %v", err)
	}
}

func TestHeader_CommitTime(t *testing.T) {
	t.Parallel()
	h := Header{CommitTimestamp: 1712694387000}
	if got := h.CommitTime(); !got.Equal(time.Date(2024, 4, 9, 20, 26, 27, 0, time.UTC)) || got.Location() != time.UTC {
		t.Fatalf("CommitTime = %v", got)
	}
}
