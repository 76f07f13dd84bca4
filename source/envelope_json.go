package source

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// JSONEncoder writes envelopes as JSON: the bytes encoding/json's Marshal
// gives for an Envelope, written without reflection. The reflective
// encoder cost as much CPU as decoding the event (map keys sorted through
// reflect.Value, one allocation per value); this one writes the struct's
// fields in declaration order and allocates only the result.
//
// Envelopes with anything the fast path does not know (a field value of
// another Go type, a float that is not finite, a time outside the years
// 0-9999 or with an offset in seconds) are handed to encoding/json as a whole, so the
// output, and the error, stay exactly the reflective encoder's.
type JSONEncoder struct{}

// Encode implements ValueEncoder.
func (JSONEncoder) Encode(_ string, env *Envelope) ([]byte, error) {
	sc := jsonScratchPool.Get().(*jsonScratch)
	defer jsonScratchPool.Put(sc)
	b, ok := sc.appendEnvelope(sc.buf[:0], env)
	sc.buf = b[:0]
	if !ok {
		return json.Marshal(env.withFieldMap())
	}
	// The record keeps the value until Kafka has it: an exact-size copy,
	// the scratch buffer goes back to the pool.
	return slices.Clone(b), nil
}

// jsonScratch is the reusable state of one Encode: the output buffer and
// the sorted keys of the fields map.
type jsonScratch struct {
	buf  []byte
	keys []string
	// times caches the last two times written with their JSON: the
	// envelopes of a batch share their received_at, and those of a
	// Salesforce transaction their commit_timestamp.
	times [2]jsonTime
	next  int
}

type jsonTime struct {
	t    time.Time
	json []byte
}

// appendTime is appendJSONTime through the cache.
func (sc *jsonScratch) appendTime(b []byte, t time.Time) ([]byte, bool) {
	for i := range sc.times {
		if c := &sc.times[i]; c.json != nil && c.t == t {
			return append(b, c.json...), true
		}
	}
	start := len(b)
	b, ok := appendJSONTime(b, t)
	if ok {
		c := &sc.times[sc.next]
		c.t, c.json = t, append(c.json[:0], b[start:]...)
		sc.next = (sc.next + 1) % len(sc.times)
	}
	return b, ok
}

var jsonScratchPool = sync.Pool{New: func() any { return &jsonScratch{buf: make([]byte, 0, 2048)} }}

// appendEnvelope appends env as encoding/json writes it; false means the
// fast path does not cover env (see JSONEncoder).
func (sc *jsonScratch) appendEnvelope(b []byte, env *Envelope) ([]byte, bool) {
	ok := true
	b = append(b, `{"envelope_version":`...)
	b = strconv.AppendInt(b, int64(env.EnvelopeVersion), 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, env.Kind)
	b = append(b, `,"entity":`...)
	b = appendJSONString(b, env.Entity)
	b = append(b, `,"record_id":`...)
	b = appendJSONStringPtr(b, env.RecordID)
	b = append(b, `,"change_type":`...)
	b = appendJSONString(b, env.ChangeType)
	b = append(b, `,"fields":`...)
	if env.Fields == nil && env.flat != nil {
		b, ok = appendFlatFields(b, env.flat)
	} else {
		b, ok = sc.appendFields(b, env.Fields)
	}
	if !ok {
		return b, false
	}
	b = append(b, `,"changed_fields":`...)
	b = appendJSONStrings(b, env.ChangedFields)
	b = append(b, `,"nulled_fields":`...)
	b = appendJSONStrings(b, env.NulledFields)
	b = append(b, `,"diff_fields":`...)
	b = appendJSONStrings(b, env.DiffFields)
	b = append(b, `,"header":`...)
	if h := env.Header; h == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"record_ids":`...)
		b = appendJSONStrings(b, h.RecordIDs)
		b = append(b, `,"change_origin":`...)
		b = appendJSONString(b, h.ChangeOrigin)
		b = append(b, `,"transaction_key":`...)
		b = appendJSONString(b, h.TransactionKey)
		b = append(b, `,"sequence_number":`...)
		b = strconv.AppendInt(b, int64(h.SequenceNumber), 10)
		b = append(b, `,"commit_timestamp":`...)
		if b, ok = sc.appendTime(b, h.CommitTimestamp); !ok {
			return b, false
		}
		b = append(b, `,"commit_number":`...)
		b = strconv.AppendInt(b, h.CommitNumber, 10)
		b = append(b, `,"commit_user":`...)
		b = appendJSONString(b, h.CommitUser)
		b = append(b, '}')
	}
	b = append(b, `,"channel":`...)
	b = appendJSONString(b, env.Channel)
	b = append(b, `,"replay_id":`...)
	if env.ReplayID == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, env.ReplayID)
		b = append(b, '"')
	}
	b = append(b, `,"schema_id":`...)
	b = appendJSONStringPtr(b, env.SchemaID)
	b = append(b, `,"event_uuid":`...)
	b = appendJSONStringPtr(b, env.EventUUID)
	b = append(b, `,"origin_client":`...)
	b = appendJSONStringPtr(b, env.OriginClient)
	b = append(b, `,"loop_tagged":`...)
	b = strconv.AppendBool(b, env.LoopTagged)
	b = append(b, `,"dedupe_key":`...)
	b = appendJSONString(b, env.DedupeKey)
	b = append(b, `,"received_at":`...)
	if b, ok = sc.appendTime(b, env.ReceivedAt); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendFields writes the fields map with its keys sorted, as
// encoding/json orders map keys.
func (sc *jsonScratch) appendFields(b []byte, fields map[string]any) ([]byte, bool) {
	if fields == nil {
		return append(b, "null"...), true
	}
	keys := sc.keys[:0]
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sc.keys = keys[:0]
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendJSONValue(b, fields[k]); !ok {
			clear(keys)
			return b, false
		}
	}
	clear(keys) // the pooled slice must not keep the keys alive
	return append(b, '}'), true
}

// appendFlatFields writes an envelope's flat fields, which are sorted
// already, as the JSON object of their map.
func appendFlatFields(b []byte, fields []field) ([]byte, bool) {
	b = append(b, '{')
	for i := range fields {
		f := &fields[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		var ok bool
		switch f.kind {
		case fieldNull:
			b = append(b, "null"...)
		case fieldBool:
			b = strconv.AppendBool(b, f.num != 0)
		case fieldLong:
			b = strconv.AppendInt(b, int64(f.num), 10)
		case fieldDouble:
			b, ok = appendJSONFloat(b, math.Float64frombits(f.num))
			if !ok {
				return b, false
			}
		case fieldString:
			b = appendJSONString(b, f.str)
		case fieldDate, fieldDateTime:
			// The ISO forms hold digits, '-', ':', 'T', '.' and 'Z':
			// nothing JSON escapes.
			b = append(b, '"')
			b = appendISO(b, int64(f.num), f.kind == fieldDateTime)
			b = append(b, '"')
		}
	}
	return append(b, '}'), true
}

// appendJSONValue writes the field value types the source builds (see
// envelopeValue and jsonFields).
func appendJSONValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case float64:
		return appendJSONFloat(b, x)
	}
	return b, false
}

// appendJSONFloat writes f as encoding/json writes a float64: the shortest
// representation, in exponent form below 1e-6 and from 1e21 on, with a
// two-digit negative exponent shortened (1e-07 is 1e-7).
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendISO writes epoch milliseconds ms as layoutDateTime (datetime) or
// layoutDate formats them, by hand for the years 0-9999: the layout
// interpreter took a third of the encoding.
func appendISO(b []byte, ms int64, datetime bool) []byte {
	t := time.UnixMilli(ms).UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		if datetime {
			return t.AppendFormat(b, layoutDateTime)
		}
		return t.AppendFormat(b, layoutDate)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	if !datetime {
		return b
	}
	hour, minute, sec := t.Clock()
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits writes 0 <= n < 10^width in width decimal digits.
func appendDigits(b []byte, n, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:width]...)
}

// appendJSONTime writes t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, which is what AppendFormat writes for the years 0-9999 and
// zone offsets of whole minutes under 24 hours. Other times are left to
// encoding/json, which also owns the error for those it cannot write.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

func appendJSONStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendJSONStrings writes a string slice; nil is null, as in encoding/json.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString writes s as encoding/json.Marshal does: quoted, with
// HTML-sensitive characters (<, >, &), control characters, U+2028 and
// U+2029 escaped, and invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain marks the bytes appendJSONString copies without a look: ASCII
// that needs no escape. Everything else takes the careful path.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
