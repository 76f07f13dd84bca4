package org

import (
	"fmt"
	"strings"
)

// base62 digits in Salesforce's order.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checksumChars maps a 5-bit case mask to a suffix character.
const checksumChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// idSuffix computes the 3-character case-safe suffix of a 15-character id:
// for each 5-character chunk, bit i is set when character i is an
// uppercase letter.
func idSuffix(id15 string) string {
	var b strings.Builder
	for chunk := range 3 {
		mask := 0
		for i := range 5 {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		b.WriteByte(checksumChars[mask])
	}
	return b.String()
}

// makeID builds an 18-character id from a 3-character key prefix and a
// sequence number: prefix, instance "8a", "0", nine base62 digits, suffix.
func makeID(prefix string, n uint64) string {
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = base62[n%62]
		n /= 62
	}
	id15 := prefix + "8a0" + string(digits[:])
	return id15 + idSuffix(id15)
}

// NormalizeID returns the 18-character form of a 15- or 18-character id,
// or an error naming what is wrong. A 15-character id is case-sensitive.
func NormalizeID(id string) (string, error) {
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(base62, id[i]) < 0 {
			return "", fmt.Errorf("invalid id %q", id)
		}
	}
	switch len(id) {
	case 15:
		return id + idSuffix(id), nil
	case 18:
		if !strings.EqualFold(idSuffix(id[:15]), id[15:]) {
			// Salesforce repairs the case of an 18-character id from its
			// suffix; a suffix that does not match is simply a wrong id.
			return "", fmt.Errorf("invalid id %q", id)
		}
		return id[:15] + idSuffix(id[:15]), nil
	}
	return "", fmt.Errorf("invalid id %q", id)
}
