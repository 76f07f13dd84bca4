package cdc

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzDecodeFields feeds arbitrary bitmap arrays to DecodeFields. It must
// never panic, and whatever it accepts must survive EncodeFields: encoding
// the decoded names gives canonical bitmaps (uppercase, whole bytes) that
// decode and re-encode to themselves.
func FuzzDecodeFields(f *testing.F) {
	for _, seed := range [][]string{
		{"0x2A"}, {"0x22", "4-0x06"}, {"0x010000"}, {"0x410000"}, {"0x650004E0", "4-0x10", "7-0x06"},
		{"0x2a"}, {"0x"}, {"", "4-0x02"}, {"4-0x02"}, {"0x10"}, {"0x00", "14-0x03"}, {"0x01"}, {"0x0402"},
	} {
		for len(seed) < 3 {
			seed = append(seed, "")
		}
		f.Add(uint8(0), uint8(len(seed)), seed[0], seed[1], seed[2])
		f.Add(uint8(1), uint8(len(seed)), seed[0], seed[1], seed[2])
		f.Add(uint8(2), uint8(len(seed)), seed[0], seed[1], seed[2])
	}
	schemas := []*Schema{mustSchema(f, smallAccount()), mustSchema(f, docAccount()), mustSchema(f, contact())}
	f.Fuzz(func(t *testing.T, which, n uint8, a, b, c string) {
		s := schemas[int(which)%len(schemas)]
		bitmaps := []string{a, b, c}[:int(n)%4]
		names, err := s.DecodeFields(bitmaps)
		if err != nil {
			return
		}
		enc, err := s.EncodeFields(names)
		if err != nil {
			t.Fatalf("EncodeFields(%q) of decoded %q: %v", names, bitmaps, err)
		}
		checkCanonical(t, enc)
		names2, err := s.DecodeFields(enc)
		if err != nil {
			t.Fatalf("DecodeFields(%q): %v", enc, err)
		}
		enc2, err := s.EncodeFields(names2)
		if err != nil || !slices.Equal(enc2, enc) {
			t.Fatalf("re-encoding %q gives %q, %v; want %q", names2, enc2, err, enc)
		}
		// Without compound names, names survive the round trip exactly.
		plainNames := true
		for _, name := range names {
			if i, ok := s.lookup(name); ok && s.fields[i].Compound {
				plainNames = false
			}
		}
		if plainNames && !slices.Equal(names, names2) {
			t.Fatalf("names %q came back as %q", names, names2)
		}
	})
}

// checkCanonical checks the emitted bitmap form: "0x" and uppercase hex in
// whole bytes, then "P-0x…" elements.
func checkCanonical(t *testing.T, bitmaps []string) {
	t.Helper()
	for i, el := range bitmaps {
		hex := el
		if i > 0 {
			pos, rest, ok := strings.Cut(el, "-")
			if !ok || pos == "" || strings.TrimLeft(pos, "0123456789") != "" {
				t.Fatalf("element %q is not P-0x…", el)
			}
			hex = rest
		}
		digits, ok := strings.CutPrefix(hex, "0x")
		if !ok || len(digits) == 0 || len(digits)%2 != 0 || strings.TrimLeft(digits, "0123456789ABCDEF") != "" {
			t.Fatalf("element %q is not 0x and uppercase whole bytes", el)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to Decode and DecodePlatform over several
// schemas (derived and parsed). They must never panic, and whatever they
// accept must re-encode and decode to the same event.
func FuzzDecode(f *testing.F) {
	con := mustSchema(f, contact())
	small := mustSchema(f, smallAccount())
	parsed, err := ParseSchema(con.JSON())
	if err != nil {
		f.Fatal(err)
	}
	pe := lowInk(f)
	// A foreign schema with enum, bytes, float, arrays and recursion (no
	// map: Go map order would make re-encoding differ byte-wise).
	foreign, err := ParseSchema(`{"type":"record","name":"F__e","fields":[
	  {"name":"F","type":"float"},{"name":"B","type":["null","bytes"]},
	  {"name":"E","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
	  {"name":"L","type":["null",{"type":"record","name":"Node","fields":[
	     {"name":"v","type":"int"},{"name":"next","type":["null","Node"]},{"name":"a","type":{"type":"array","items":"Node"}}]}]}]}`)
	if err != nil {
		f.Fatal(err)
	}
	schemas := []*Schema{con, small, parsed, pe, foreign}

	seed := func(which uint8, b []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(which, b)
		f.Add(which, b[:len(b)/2])
	}
	b, err := con.Encode(fullContact(f, con))
	seed(0, b, err)
	seed(2, b, err)
	b, err = small.Encode(&ChangeEvent{
		Header: Header{ChangeType: ChangeTypeUpdate, RecordIDs: []string{"001"}, ChangedFields: []string{"0x22", "4-0x06"}},
		Fields: map[string]any{"Name": "Acme", "BillingAddress": map[string]any{"City": "Paris"}},
	})
	seed(1, b, err)
	b, err = pe.EncodePlatform(&PlatformEvent{Fields: map[string]any{"CreatedDate": int64(1), "CreatedById": "005", "Count__c": int32(7)}})
	seed(3, b, err)
	b, err = foreign.EncodePlatform(&PlatformEvent{Fields: map[string]any{
		"F": float32(2), "E": "GREEN", "B": []byte("x"),
		"L": map[string]any{"v": int32(1), "a": []any{map[string]any{"v": int32(2), "a": []any{}}}, "next": map[string]any{"v": int32(3), "a": []any{}}},
	}})
	seed(4, b, err)
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{0x00, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F})
	f.Add(uint8(1), []byte{0x00, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})

	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		s := schemas[int(which)%len(schemas)]
		if s.Kind() == KindPlatformEvent {
			ev, err := s.DecodePlatform(payload)
			if err != nil {
				return
			}
			again, err := s.EncodePlatform(ev)
			if err != nil {
				t.Fatalf("EncodePlatform(%#v): %v", ev, err)
			}
			back, err := s.DecodePlatform(again)
			if err != nil {
				t.Fatalf("decode of re-encoded %#v: %v", ev, err)
			}
			if third, err := s.EncodePlatform(back); err != nil || !bytes.Equal(third, again) {
				t.Fatalf("round trip changed the event: %#v, want %#v", back, ev)
			}
			return
		}
		ev, err := s.Decode(payload)
		if err != nil {
			return
		}
		// Decode does not judge header bitmaps; encode without the check.
		again, err := s.encodeChange(ev)
		if err != nil {
			t.Fatalf("encode of decoded %#v: %v", ev, err)
		}
		back, err := s.Decode(again)
		if err != nil {
			t.Fatalf("decode of re-encoded %#v: %v", ev, err)
		}
		// Bytes, not reflect.DeepEqual: a decoded NaN is not equal to itself.
		if third, err := s.encodeChange(back); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("round trip changed the event: %#v, want %#v", back, ev)
		}
		_, _ = CometDPayload(ev, s) // must not panic either
	})
}
