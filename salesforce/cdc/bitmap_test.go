package cdc

import (
	"errors"
	"slices"
	"testing"
)

// TestSchema_EncodeFields_DocVectors checks the examples of the protocol
// reference §2.3 in both directions.
func TestSchema_EncodeFields_DocVectors(t *testing.T) {
	t.Parallel()
	small := mustSchema(t, smallAccount())
	doc := mustSchema(t, docAccount())
	for _, tc := range []struct {
		name    string
		s       *Schema
		fields  []string
		bitmaps []string
	}{
		{"diffFields Description", doc, []string{"Description"}, []string{"0x010000"}},
		{"changedFields Description LastModifiedDate", doc, []string{"Description", "LastModifiedDate"}, []string{"0x410000"}},
		{"Name ParentId Phone", small, []string{"Name", "ParentId", "Phone"}, []string{"0x2A"}},
		{"nested City State", small, []string{"Name", "BillingAddress.City", "BillingAddress.State", "Phone"}, []string{"0x22", "4-0x06"}},
		{"empty", small, []string{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.s.EncodeFields(tc.fields)
			if err != nil || !slices.Equal(got, tc.bitmaps) {
				t.Errorf("EncodeFields(%q) = %q, %v; want %q", tc.fields, got, err, tc.bitmaps)
			}
			back, err := tc.s.DecodeFields(tc.bitmaps)
			if err != nil || !slices.Equal(back, tc.fields) {
				t.Errorf("DecodeFields(%q) = %q, %v; want %q", tc.bitmaps, back, err, tc.fields)
			}
		})
	}
}

func TestSchema_EncodeFields(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	for _, tc := range []struct {
		name   string
		fields []string
		want   []string
	}{
		{"nil", nil, []string{}},
		{"order and duplicates do not matter", []string{"Phone", "Name", "Phone", "ParentId"}, []string{"0x2A"}},
		{"case-insensitive", []string{"name", "PHONE", "billingaddress.city"}, []string{"0x22", "4-0x02"}},
		{"nested only", []string{"BillingAddress.City"}, []string{"0x00", "4-0x02"}},
		{"whole compound is every component", []string{"BillingAddress"}, []string{"0x00", "4-0xFF"}},
		{"high component", []string{"BillingAddress.GeocodeAccuracy", "Type"}, []string{"0x04", "4-0x80"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.EncodeFields(tc.fields)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("EncodeFields(%q) = %q, %v; want %q", tc.fields, got, err, tc.want)
			}
		})
	}
	// Whole bytes: bit 8 needs two bytes.
	c := mustSchema(t, contact())
	got, err := c.EncodeFields([]string{"Visits__c", "AccountId"})
	if err != nil || !slices.Equal(got, []string{"0x0402"}) {
		t.Fatalf("EncodeFields = %q, %v; want [0x0402]", got, err)
	}
	got, err = c.EncodeFields([]string{"Geo__c.Longitude", "Name.FirstName", "MailingAddress.Street"})
	if err != nil || !slices.Equal(got, []string{"0x00", "2-0x02", "3-0x01", "14-0x02"}) {
		t.Fatalf("EncodeFields = %q, %v", got, err)
	}
}

func TestSchema_EncodeFields_Errors(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	for _, name := range []string{"Nope", HeaderField, "Id", "SystemModstamp", "Phone.Extension", "BillingAddress.Nope", "", ".", "BillingAddress."} {
		if _, err := s.EncodeFields([]string{"Name", name}); !errors.Is(err, ErrUnknownField) {
			t.Errorf("EncodeFields(%q) err = %v, want ErrUnknownField", name, err)
		}
	}
	if _, err := lowInk(t).EncodeFields([]string{"Count__c"}); !errors.Is(err, ErrWrongKind) {
		t.Errorf("platform event: err = %v", err)
	}
}

func TestSchema_DecodeFields_Lenient(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	for _, tc := range []struct {
		name    string
		bitmaps []string
		want    []string
	}{
		{"lowercase", []string{"0x2a"}, []string{"Name", "ParentId", "Phone"}},
		{"odd digit count", []string{"0x2"}, []string{"Name"}},
		{"upper prefix", []string{"0X2A"}, []string{"Name", "ParentId", "Phone"}},
		{"leading zeros", []string{"0x0000002A"}, []string{"Name", "ParentId", "Phone"}},
		{"empty top", []string{"", "4-0x02"}, []string{"BillingAddress.City"}},
		{"bare prefix", []string{"0x", "4-0x02"}, []string{"BillingAddress.City"}},
		{"zero top", []string{"0x00", "4-0x02"}, []string{"BillingAddress.City"}},
		{"no top element", []string{"4-0x02"}, []string{"BillingAddress.City"}},
		{"merged nested", []string{"0x20", "4-0x2", "4-0x4"}, []string{"BillingAddress.City", "BillingAddress.State", "Phone"}},
		{"compound bit", []string{"0x10"}, []string{"BillingAddress"}},
		{"compound bit and nested", []string{"0x10", "4-0x01"}, []string{"BillingAddress", "BillingAddress.Street"}},
		{"nil", nil, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.DecodeFields(tc.bitmaps)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("DecodeFields(%q) = %q, %v; want %q", tc.bitmaps, got, err, tc.want)
			}
		})
	}
}

func TestSchema_DecodeFields_Errors(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, smallAccount())
	for _, bitmaps := range [][]string{
		{"0x40"},            // bit 6: only 6 fields
		{"0x100"},           // bit 8
		{"0x01"},            // bit 0 is the header
		{"2A"},              // no prefix
		{"0xZZ"},            // not hex
		{"0x2A", "0x02"},    // a second top-level element
		{"0x00", "5-0x01"},  // Phone is not compound
		{"0x00", "4-0x100"}, // component bit 8 of 8
		{"0x00", "6-0x01"},  // no field 6
		{"0x00", "-0x01"},
		{"0x00", "4-"},
		{"0x00", "x-0x01"},
		{"0x00", "+4-0x01"},
		{"0x00", "4-0x01-"},
		{"0x00", "99999999999999999999-0x01"},
		{"0x00", "4-02"},
	} {
		if got, err := s.DecodeFields(bitmaps); !errors.Is(err, ErrInvalidBitmap) {
			t.Errorf("DecodeFields(%q) = %q, %v; want ErrInvalidBitmap", bitmaps, got, err)
		}
	}
	if _, err := lowInk(t).DecodeFields([]string{"0x02"}); !errors.Is(err, ErrWrongKind) {
		t.Errorf("platform event: err = %v", err)
	}
}
