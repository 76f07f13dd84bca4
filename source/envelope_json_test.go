package source_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/source"
)

// sameAsMarshal fails unless JSONEncoder writes env exactly as
// encoding/json's Marshal does, or fails where Marshal fails.
func sameAsMarshal(t *testing.T, env *source.Envelope) {
	t.Helper()
	want, wantErr := json.Marshal(env)
	got, err := source.JSONEncoder{}.Encode("topic", env)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Encode error %v, Marshal error %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
}

func TestJSONEncoder_Encode_SameAsMarshal(t *testing.T) {
	t.Parallel()
	for _, env := range []*source.Envelope{changeEnvelope(), platformEnvelope(), {}} {
		sameAsMarshal(t, env)
	}
	edge := []struct {
		name string
		edit func(e *source.Envelope)
	}{
		{"escapes", func(e *source.Envelope) {
			e.Entity = "a\"b\\c<d>e&f\x00\x1f\t\n\r\b\f\u2028\u2029é\ufffd"
			e.Fields["k<&>\"\n"] = "\xff\xfe invalid \xc3"
		}},
		{"nil slices and map", func(e *source.Envelope) {
			e.Fields, e.ChangedFields, e.NulledFields, e.DiffFields, e.Header.RecordIDs = nil, nil, nil, nil, nil
		}},
		{"empty replay id", func(e *source.Envelope) { e.ReplayID = []byte{} }},
		{"nil pointers", func(e *source.Envelope) {
			e.RecordID, e.SchemaID, e.EventUUID, e.OriginClient, e.Header = nil, nil, nil, nil, nil
		}},
		{"floats", func(e *source.Envelope) {
			for i, f := range []float64{0, math.Copysign(0, -1), 1e-7, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125, -2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
				e.Fields[string(rune('a'+i))] = f
			}
		}},
		{"ints", func(e *source.Envelope) {
			e.Fields["min"], e.Fields["max"] = int64(math.MinInt64), int64(math.MaxInt64)
		}},
		{"NaN fails", func(e *source.Envelope) { e.Fields["x"] = math.NaN() }},
		{"infinity fails", func(e *source.Envelope) { e.Fields["x"] = math.Inf(-1) }},
		{"other value types", func(e *source.Envelope) {
			e.Fields["int"], e.Fields["list"], e.Fields["num"] = 7, []any{"a", 1.5}, json.Number("12")
		}},
		{"year 10000 fails", func(e *source.Envelope) { e.Header.CommitTimestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"negative year fails", func(e *source.Envelope) { e.ReceivedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"zero time", func(e *source.Envelope) { e.ReceivedAt = time.Time{} }},
		{"local time", func(e *source.Envelope) {
			e.ReceivedAt = time.Date(2026, 11, 23, 8, 0, 0, 5, time.FixedZone("X", -5*3600-30*60))
		}},
		{"offset with seconds", func(e *source.Envelope) {
			e.ReceivedAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 17*60+30))
		}},
		{"offset of a day fails", func(e *source.Envelope) {
			e.ReceivedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("Y", 24*3600))
		}},
		{"time.Now", func(e *source.Envelope) { e.ReceivedAt = time.Now() }},
		{"nanoseconds", func(e *source.Envelope) { e.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 120_000, time.UTC) }},
	}
	for _, c := range edge {
		t.Run(c.name, func(t *testing.T) {
			e := changeEnvelope()
			c.edit(e)
			sameAsMarshal(t, e)
		})
	}
}

// TestJSONEncoder_Encode_FastPath checks that envelopes as the source
// builds them (received_at from time.Now, in the local zone) are written by
// the encoder itself, not handed to encoding/json.
func TestJSONEncoder_Encode_FastPath(t *testing.T) {
	t.Parallel()
	for _, env := range []*source.Envelope{changeEnvelope(), platformEnvelope()} {
		env.ReceivedAt = time.Now()
		if !source.JSONFastPath(env) {
			t.Fatalf("%s envelope left to encoding/json", env.Kind)
		}
	}
	e := changeEnvelope()
	e.Fields["x"] = math.NaN()
	if source.JSONFastPath(e) {
		t.Fatal("NaN taken by the fast path")
	}
}

// TestJSONEncoder_Encode_RandomEnvelopes compares the encoders on
// envelopes with random strings (any bytes), numbers and times.
func TestJSONEncoder_Encode_RandomEnvelopes(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\x00", "\x1f", "\x7f", "é", "€", "\u2028", "\u2029", "\xff", "\xe2\x82", "😀", "\ufffd"}
	str := func() string {
		var sb strings.Builder
		for range r.IntN(12) {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	strs := func() []string {
		if r.IntN(5) == 0 {
			return nil
		}
		out := make([]string, r.IntN(4))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	value := func() any {
		switch r.IntN(6) {
		case 0:
			return nil
		case 1:
			return str()
		case 2:
			return r.IntN(2) == 0
		case 3:
			return int64(r.Uint64())
		case 4:
			return math.Float64frombits(r.Uint64()) // NaN and infinities included
		}
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
	}
	when := func() time.Time {
		return time.UnixMilli(r.Int64N(400_000_000_000_000) - 100_000_000_000_000).UTC()
	}
	for range 5000 {
		e := changeEnvelope()
		e.Entity, e.ChangeType, e.Channel, e.DedupeKey = str(), str(), str(), str()
		e.Fields = map[string]any{}
		for range r.IntN(8) {
			e.Fields[str()] = value()
		}
		e.ChangedFields, e.NulledFields, e.DiffFields = strs(), strs(), strs()
		e.Header.RecordIDs, e.Header.ChangeOrigin, e.Header.CommitTimestamp = strs(), str(), when()
		e.Header.SequenceNumber, e.Header.CommitNumber = r.Int32(), int64(r.Uint64())
		e.ReplayID = []byte(str())
		e.ReceivedAt, e.LoopTagged = when(), r.IntN(2) == 0
		sameAsMarshal(t, e)
	}
}

func FuzzJSONEncoder_Encode(f *testing.F) {
	f.Add("Acme", "k", 1.5, int64(3), int64(1_760_000_000_123))
	f.Add("\xff<\u2028", "\x00", math.Inf(1), int64(-1), int64(-62_135_596_800_001))
	f.Fuzz(func(t *testing.T, s, k string, fl float64, n, ms int64) {
		e := changeEnvelope()
		e.Entity, e.Fields[k], e.Fields[s] = s, s, fl
		e.Fields["n"] = n
		e.Header.CommitTimestamp = time.UnixMilli(ms).UTC()
		sameAsMarshal(t, e)
	})
}
