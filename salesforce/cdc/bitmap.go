package cdc

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// EncodeFields turns field names into the Pub/Sub bitmap form of
// changedFields, nulledFields and diffFields (protocol reference §2.3).
//
// Names are top-level field names ("Name"), compound components as
// "Compound.Component" ("BillingAddress.City"), or a compound's own name
// ("BillingAddress"), which stands for all of its components. Names match
// exactly, else case-insensitively; duplicates are harmless; unknown names
// and the header give ErrUnknownField.
//
// The result is [] when names is empty. Otherwise element 0 is "0x" and
// uppercase hex digits in whole bytes (the fewest that hold the highest
// bit), with bit i (bit 0 the least significant bit of the big-endian
// number) set for top-level field i. Then, for each compound with
// components named, in schema order, an element "P-0x…" holds bit j for
// component j of the compound at index P.
//
// Decision where the reference is [UNVERIFIED]: the top-level bit of a
// compound is never set; its components are only in its "P-" element. This
// matches the documented example ['0x22','4-0x06'] (Name, Phone,
// BillingAddress.City, BillingAddress.State; bit 4, BillingAddress, clear)
// and the documented wording that element 0 holds the non-compound fields.
// When only components are named, element 0 is "0x00": every reference
// decoder (Java, Python, Node) reads it as no top-level field.
func (s *Schema) EncodeFields(names []string) ([]string, error) {
	if err := s.needKind(KindChangeEvent); err != nil {
		return nil, err
	}
	top := make([]bool, len(s.fields))
	nested := map[int][]bool{}
	setNested := func(i, j int) {
		if nested[i] == nil {
			nested[i] = make([]bool, len(s.fields[i].Components))
		}
		nested[i][j] = true
	}
	for _, name := range names {
		parent, child, dotted := strings.Cut(name, ".")
		i, ok := s.lookup(parent)
		if !ok || i == 0 {
			return nil, fmt.Errorf("encode field %q: %w", name, ErrUnknownField)
		}
		f := &s.fields[i]
		switch {
		case dotted:
			if !f.Compound {
				return nil, fmt.Errorf("encode field %q: %s is not a compound field: %w", name, f.Name, ErrUnknownField)
			}
			j, ok := f.component(child)
			if !ok {
				return nil, fmt.Errorf("encode field %q: %w", name, ErrUnknownField)
			}
			setNested(i, j)
		case f.Compound && len(f.Components) > 0:
			for j := range f.Components {
				setNested(i, j)
			}
		default:
			top[i] = true
		}
	}
	topHex, anyTop := hexBits(top)
	if !anyTop && len(nested) == 0 {
		return []string{}, nil
	}
	out := []string{topHex}
	parents := make([]int, 0, len(nested))
	for i := range nested {
		parents = append(parents, i)
	}
	sort.Ints(parents)
	for _, i := range parents {
		h, _ := hexBits(nested[i])
		out = append(out, strconv.Itoa(i)+"-"+h)
	}
	return out, nil
}

// DecodeFields turns a Pub/Sub bitmap array back into field names: the
// inverse of [Schema.EncodeFields]. Names come in schema order; components
// are "Compound.Component" and are never collapsed into the compound's name
// (unlike the Java and Python reference decoders). A set top-level bit of a
// compound decodes to the compound's own name.
//
// Decoding is lenient where real data may vary: hex digits may be lowercase
// and odd in number, the prefix may be "0X", element 0 may be "" or "0x"
// (no top-level field), may be missing (the first element is "P-0x…"), and
// several elements for one compound are merged. It is strict about meaning:
// a bit beyond the schema's fields or a compound's components, bit 0 (the
// header), a "P-" element for a non-compound field, and malformed elements
// give ErrInvalidBitmap.
func (s *Schema) DecodeFields(bitmaps []string) ([]string, error) {
	if err := s.needKind(KindChangeEvent); err != nil {
		return nil, err
	}
	if len(bitmaps) == 0 {
		return []string{}, nil // CREATE and DELETE events: nothing to allocate
	}
	top := make([]bool, len(s.fields))
	nested := map[int][]bool{}
	for k, el := range bitmaps {
		if k == 0 && !strings.Contains(el, "-") {
			if el == "" {
				continue
			}
			err := parseHexBits(el, len(s.fields), func(bit int) error {
				if bit == 0 {
					return fmt.Errorf("bit 0 is the %s", HeaderField)
				}
				top[bit] = true
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("decode field bitmap %q: %w: %w", el, ErrInvalidBitmap, err)
			}
			continue
		}
		pos, bm, ok := strings.Cut(el, "-")
		if !ok {
			return nil, fmt.Errorf("decode field bitmap %q: %w: want P-0x…", el, ErrInvalidBitmap)
		}
		i, err := parseIndex(pos)
		if err != nil || i >= len(s.fields) || !s.fields[i].Compound {
			return nil, fmt.Errorf("decode field bitmap %q: %w: position %q is not a compound field", el, ErrInvalidBitmap, pos)
		}
		comps := s.fields[i].Components
		if nested[i] == nil {
			nested[i] = make([]bool, len(comps))
		}
		err = parseHexBits(bm, len(comps), func(bit int) error {
			nested[i][bit] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("decode field bitmap %q: %w: %w", el, ErrInvalidBitmap, err)
		}
	}
	out := []string{}
	for i, f := range s.fields {
		if top[i] {
			out = append(out, f.Name)
		}
		for j, set := range nested[i] {
			if set {
				out = append(out, f.Name+"."+f.Components[j].Name)
			}
		}
	}
	return out, nil
}

// hexBits renders bits as "0x" and uppercase hex in the fewest whole bytes,
// bit 0 being the least significant bit; no set bit gives "0x00". It also
// reports whether any bit is set.
func hexBits(bits []bool) (string, bool) {
	high := -1
	for i, b := range bits {
		if b {
			high = i
		}
	}
	if high < 0 {
		return "0x00", false
	}
	n := high/8 + 1
	buf := make([]byte, n)
	for i := 0; i <= high; i++ {
		if bits[i] {
			buf[n-1-i/8] |= 1 << (i % 8)
		}
	}
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2, 2+2*n)
	out[0], out[1] = '0', 'x'
	for _, b := range buf {
		out = append(out, digits[b>>4], digits[b&0x0F])
	}
	return string(out), true
}

// parseHexBits calls set for every set bit of the hex number s ("0x…"), bit
// 0 being the least significant. A set bit at or beyond limit is an error.
func parseHexBits(s string, limit int, set func(bit int) error) error {
	digits, ok := strings.CutPrefix(s, "0x")
	if !ok {
		digits, ok = strings.CutPrefix(s, "0X")
	}
	if !ok {
		return fmt.Errorf("missing 0x prefix")
	}
	n := len(digits)
	for k := n - 1; k >= 0; k-- {
		v, ok := hexDigit(digits[k])
		if !ok {
			return fmt.Errorf("bad hex digit %q", digits[k])
		}
		for b := 0; b < 4; b++ {
			if v&(1<<b) == 0 {
				continue
			}
			bit := (n-1-k)*4 + b
			if bit >= limit {
				return fmt.Errorf("bit %d out of range (%d fields)", bit, limit)
			}
			if err := set(bit); err != nil {
				return err
			}
		}
	}
	return nil
}

// hexDigit returns the value of one hex digit of either case.
func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseIndex parses a field position: decimal digits only, at most 9 of
// them (no sign, no overflow).
func parseIndex(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, fmt.Errorf("bad position %q", s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("bad position %q", s)
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// needKind returns ErrWrongKind unless s is a schema of kind k.
func (s *Schema) needKind(k Kind) error {
	if s == nil {
		return fmt.Errorf("%w: nil schema", ErrWrongKind)
	}
	if s.kind != k {
		return fmt.Errorf("%w: %s is a %s schema, not a %s schema", ErrWrongKind, s.Name(), s.kind, k)
	}
	return nil
}
