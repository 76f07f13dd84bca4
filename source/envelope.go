package source

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/cdc"
)

// EnvelopeVersion is the version of the envelope this package writes.
const EnvelopeVersion = 1

// Envelope kinds (schemas/change_envelope.avsc, enum Kind).
const (
	KindChange        = "CHANGE"
	KindPlatformEvent = "PLATFORM_EVENT"
	KindPushTopic     = "PUSH_TOPIC"
	KindGapRepair     = "GAP_REPAIR"
	KindResync        = "RESYNC"
	KindSnapshot      = "SNAPSHOT"
)

// Envelope is one record value: the Go form of io.sfconnect.v1.ChangeEnvelope.
// JSON and Avro encodings use the same field names.
type Envelope struct {
	EnvelopeVersion int            `avro:"envelope_version" json:"envelope_version"`
	Kind            string         `avro:"kind" json:"kind"`
	Entity          string         `avro:"entity" json:"entity"`
	RecordID        *string        `avro:"record_id" json:"record_id"`
	ChangeType      string         `avro:"change_type" json:"change_type"`
	Fields          map[string]any `avro:"fields" json:"fields"`
	ChangedFields   []string       `avro:"changed_fields" json:"changed_fields"`
	NulledFields    []string       `avro:"nulled_fields" json:"nulled_fields"`
	DiffFields      []string       `avro:"diff_fields" json:"diff_fields"`
	Header          *Header        `avro:"header" json:"header"`
	Channel         string         `avro:"channel" json:"channel"`
	ReplayID        []byte         `avro:"replay_id" json:"replay_id"`
	SchemaID        *string        `avro:"schema_id" json:"schema_id"`
	EventUUID       *string        `avro:"event_uuid" json:"event_uuid"`
	OriginClient    *string        `avro:"origin_client" json:"origin_client"`
	LoopTagged      bool           `avro:"loop_tagged" json:"loop_tagged"`
	DedupeKey       string         `avro:"dedupe_key" json:"dedupe_key"`
	ReceivedAt      time.Time      `avro:"received_at" json:"received_at"`

	// flat holds the fields of an envelope built from a Pub/Sub event, as
	// long as Fields is nil: sorted by name, each name once, so that the
	// JSON encoder writes them as they are instead of building and sorting
	// a map per event. Read the fields through fieldMap.
	flat []field
}

// field is one field value of an envelope's flat form, held without an
// interface; value gives it boxed, as envelopeValue would.
type field struct {
	name string
	str  string
	num  uint64 // bool (0/1), long, double bits, or epoch ms for dates
	kind fieldKind
}

// fieldKind says which member of a field holds its value.
type fieldKind uint8

const (
	fieldNull fieldKind = iota
	fieldBool
	fieldLong
	fieldDouble
	fieldString
	fieldDate     // num: epoch ms, written as 2006-01-02
	fieldDateTime // num: epoch ms, written as 2006-01-02T15:04:05.000Z
)

// ISO layouts of Salesforce dates and datetimes in envelopes.
const (
	layoutDate     = "2006-01-02"
	layoutDateTime = "2006-01-02T15:04:05.000Z"
)

// value returns f's value as envelopeValue gives it.
func (f *field) value() any {
	switch f.kind {
	case fieldBool:
		return f.num != 0
	case fieldLong:
		return int64(f.num)
	case fieldDouble:
		return math.Float64frombits(f.num)
	case fieldString:
		return f.str
	case fieldDate:
		return time.UnixMilli(int64(f.num)).UTC().Format(layoutDate)
	case fieldDateTime:
		return time.UnixMilli(int64(f.num)).UTC().Format(layoutDateTime)
	}
	return nil
}

// fieldOf converts one decoded value of Salesforce type sfType as
// envelopeValue does, without boxing the usual kinds.
func fieldOf(name string, v cdc.Value, sfType string) field {
	f := field{name: name}
	switch v.Kind {
	case cdc.ValueNull:
	case cdc.ValueBool:
		f.kind, f.num = fieldBool, v.Num
	case cdc.ValueInt:
		f.kind, f.num = fieldLong, v.Num
	case cdc.ValueLong:
		f.kind, f.num = fieldLong, v.Num
		switch sfType {
		case "datetime":
			f.kind = fieldDateTime
		case "date":
			f.kind = fieldDate
		}
	case cdc.ValueFloat, cdc.ValueDouble:
		f.kind, f.num = fieldDouble, v.Num // a float is held widened already
	case cdc.ValueString:
		f.kind, f.str = fieldString, v.Str
	default:
		// envelopeValue gives only the kinds above.
		switch x := envelopeValue(v.Interface(), sfType).(type) {
		case string:
			f.kind, f.str = fieldString, x
		case int64:
			f.kind, f.num = fieldLong, uint64(x)
		case float64:
			f.kind, f.num = fieldDouble, math.Float64bits(x)
		case bool:
			f.kind = fieldBool
			if x {
				f.num = 1
			}
		}
	}
	return f
}

// withFieldMap returns e, or for an envelope in flat form a copy with
// Fields set, for encoders that read Fields (encoding/json, Avro).
func (e *Envelope) withFieldMap() *Envelope {
	if e.Fields != nil || e.flat == nil {
		return e
	}
	c := *e
	c.Fields, c.flat = e.fieldMap(), nil
	return &c
}

// field returns the value of one field, whichever form the fields are
// held in.
func (e *Envelope) field(name string) (any, bool) {
	if e.Fields != nil || e.flat == nil {
		v, ok := e.Fields[name]
		return v, ok
	}
	i, ok := slices.BinarySearchFunc(e.flat, name, func(f field, name string) int { return strings.Compare(f.name, name) })
	if !ok {
		return nil, false
	}
	return e.flat[i].value(), true
}

// fieldMap returns the envelope's fields as a map: Fields, or a map built
// from the flat form.
func (e *Envelope) fieldMap() map[string]any {
	if e.Fields != nil || e.flat == nil {
		return e.Fields
	}
	m := make(map[string]any, len(e.flat))
	for i := range e.flat {
		m[e.flat[i].name] = e.flat[i].value()
	}
	return m
}

// Header is the ChangeEventHeader part of an envelope.
type Header struct {
	RecordIDs       []string  `avro:"record_ids" json:"record_ids"`
	ChangeOrigin    string    `avro:"change_origin" json:"change_origin"`
	TransactionKey  string    `avro:"transaction_key" json:"transaction_key"`
	SequenceNumber  int32     `avro:"sequence_number" json:"sequence_number"`
	CommitTimestamp time.Time `avro:"commit_timestamp" json:"commit_timestamp"`
	CommitNumber    int64     `avro:"commit_number" json:"commit_number"`
	CommitUser      string    `avro:"commit_user" json:"commit_user"`
}

// originClient extracts <id> from com/salesforce/api/rest/62.0;client=<id>
// as the loop prevention ADR says: the parameters after the first ';',
// split on ';' or ',', the value of client= with whitespace and one
// trailing '/' removed (…;client=Workbench/ is Workbench).
func originClient(origin string) string {
	_, params, ok := strings.Cut(origin, ";")
	if !ok {
		return ""
	}
	for params != "" { // without allocating: every change event has an origin
		p := params
		if i := strings.IndexAny(params, ";,"); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			params = ""
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "client="); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), "/")
		}
	}
	return ""
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// dedupeKey identifies one envelope across redeliveries.
func dedupeKey(channel string, replay []byte, recordID string) string {
	return channel + "|" + hex.EncodeToString(replay) + "|" + recordID
}

// changeEnvelopes builds one envelope per record id of a decoded Pub/Sub
// change event (fan-out). Field values come flattened (BillingAddress.City)
// from the decoder; dates become ISO strings, by the schema's field types.
func changeEnvelopes(channel string, replay []byte, eventID string, ev *cdc.FlatChange, s *cdc.Schema, now time.Time) []Envelope {
	h := &ev.Header
	// One allocation holds what the event's envelopes point to.
	box := &struct {
		header                    Header
		schemaID, eventID, origin string
	}{
		header: Header{
			RecordIDs: h.RecordIDs, ChangeOrigin: h.ChangeOrigin, TransactionKey: h.TransactionKey,
			SequenceNumber: h.SequenceNumber, CommitTimestamp: time.UnixMilli(h.CommitTimestamp).UTC(),
			CommitNumber: h.CommitNumber, CommitUser: h.CommitUser,
		},
		schemaID: s.ID(), eventID: eventID, origin: originClient(h.ChangeOrigin),
	}
	fields := envelopeFields(ev.Fields)
	var eventUUID, origin *string
	if box.eventID != "" {
		eventUUID = &box.eventID
	}
	if box.origin != "" {
		origin = &box.origin
	}
	out := make([]Envelope, len(h.RecordIDs))
	for i := range h.RecordIDs {
		// The record ids are this event's own (decoded afresh): the
		// envelope may point into them.
		var recordID *string
		if h.RecordIDs[i] != "" {
			recordID = &h.RecordIDs[i]
		}
		out[i] = Envelope{
			EnvelopeVersion: EnvelopeVersion, Kind: KindChange, Entity: h.EntityName, RecordID: recordID,
			ChangeType: string(h.ChangeType), flat: fields,
			ChangedFields: nonNil(h.ChangedFields), NulledFields: nonNil(h.NulledFields), DiffFields: nonNil(h.DiffFields),
			Header: &box.header, Channel: channel, ReplayID: replay, SchemaID: &box.schemaID, EventUUID: eventUUID,
			OriginClient: origin, DedupeKey: dedupeKey(channel, replay, h.RecordIDs[i]), ReceivedAt: now,
		}
	}
	return out
}

// platformEnvelope builds the envelope of a decoded platform event.
func platformEnvelope(channel string, replay []byte, eventID string, fields []cdc.FlatField, s *cdc.Schema, now time.Time) Envelope {
	schemaID := s.ID()
	return Envelope{
		EnvelopeVersion: EnvelopeVersion, Kind: KindPlatformEvent, Entity: strings.TrimPrefix(channel, "/event/"),
		ChangeType: "PUBLISH", flat: envelopeFields(fields), ChangedFields: []string{}, NulledFields: []string{},
		DiffFields: []string{}, Channel: channel, ReplayID: replay, SchemaID: &schemaID, EventUUID: strp(eventID),
		DedupeKey: dedupeKey(channel, replay, eventID), ReceivedAt: now,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// envelopeFields turns flat decoded values into an envelope's flat form:
// dates and datetimes (epoch ms) as ISO strings, ints as longs
// (envelopeValue), sorted by name as a map's keys are written in JSON. A
// name decoded twice (only map keys with dots can do that) keeps its last
// value, as a map would.
func envelopeFields(in []cdc.FlatField) []field {
	// The order is worked out on indexes, so that no field (strings and
	// interfaces: write barriers while the collector runs) moves twice.
	var buf [64]int32
	idx := buf[:0]
	if len(in) > len(buf) {
		idx = make([]int32, 0, len(in))
	}
	ranked := true
	for i := range in {
		idx = append(idx, int32(i))
		ranked = ranked && in[i].Rank >= 0
	}
	if ranked {
		// Insertion sort on the decoder's ranks: integer comparisons, and
		// little movement, events mostly carrying their fields in the same
		// order.
		for i := 1; i < len(idx); i++ {
			for j := i; j > 0 && in[idx[j-1]].Rank > in[idx[j]].Rank; j-- {
				idx[j-1], idx[j] = idx[j], idx[j-1]
			}
		}
	} else {
		slices.SortStableFunc(idx, func(a, b int32) int { return strings.Compare(in[a].Name, in[b].Name) })
	}
	out := make([]field, 0, len(in))
	for _, i := range idx {
		f := &in[i]
		if n := len(out); n > 0 && out[n-1].name == f.Name {
			out[n-1] = fieldOf(f.Name, f.Value, f.Type) // stable: the later value
			continue
		}
		out = append(out, fieldOf(f.Name, f.Value, f.Type))
	}
	return out
}

// envelopeValue converts one decoded value by its Salesforce type.
func envelopeValue(v any, sfType string) any {
	switch x := v.(type) {
	case int64:
		switch sfType {
		case "datetime":
			return time.UnixMilli(x).UTC().Format(layoutDateTime)
		case "date":
			return time.UnixMilli(x).UTC().Format(layoutDate)
		}
		return x
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case bool, float64, string, nil:
		return x
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case []byte:
		return hex.EncodeToString(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// cometdMessage is the data of a CometD event.
type cometdMessage struct {
	Schema  string         `json:"schema"`
	Payload map[string]any `json:"payload"`
	Event   struct {
		ReplayID  int64  `json:"replayId"`
		EventUUID string `json:"EventUuid"`
		Type      string `json:"type"`
	} `json:"event"`
	SObject map[string]any `json:"sobject"`
}

// cometdEnvelopes builds envelopes from a CometD event on channel.
func cometdEnvelopes(channel string, replay []byte, data json.RawMessage, now time.Time) ([]Envelope, error) {
	var m cometdMessage
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode CometD event: %w", err)
	}
	switch {
	case strings.HasPrefix(channel, "/topic/"):
		id, _ := m.SObject["Id"].(string)
		if id == "" {
			return nil, fmt.Errorf("PushTopic event without sobject.Id")
		}
		return []Envelope{{
			EnvelopeVersion: EnvelopeVersion, Kind: KindPushTopic, Entity: strings.TrimPrefix(channel, "/topic/"),
			RecordID: &id, ChangeType: m.Event.Type, Fields: jsonFields(m.SObject),
			ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
			Channel: channel, ReplayID: replay, DedupeKey: dedupeKey(channel, replay, id), ReceivedAt: now,
		}}, nil
	case strings.HasPrefix(channel, "/event/"):
		uuid := m.Event.EventUUID
		return []Envelope{{
			EnvelopeVersion: EnvelopeVersion, Kind: KindPlatformEvent, Entity: strings.TrimPrefix(channel, "/event/"),
			ChangeType: "PUBLISH", Fields: jsonFields(m.Payload), ChangedFields: []string{}, NulledFields: []string{},
			DiffFields: []string{}, Channel: channel, ReplayID: replay, SchemaID: strp(m.Schema), EventUUID: strp(uuid),
			DedupeKey: dedupeKey(channel, replay, uuid), ReceivedAt: now,
		}}, nil
	}
	hdr, _ := m.Payload["ChangeEventHeader"].(map[string]any)
	if hdr == nil {
		return nil, fmt.Errorf("change event without ChangeEventHeader")
	}
	delete(m.Payload, "ChangeEventHeader")
	str := func(k string) string { s, _ := hdr[k].(string); return s }
	num := func(k string) int64 {
		n, _ := hdr[k].(json.Number)
		i, _ := n.Int64()
		return i
	}
	list := func(k string) []string {
		var out []string
		a, _ := hdr[k].([]any)
		for _, v := range a {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return nonNil(out)
	}
	ids := list("recordIds")
	if len(ids) == 0 {
		return nil, fmt.Errorf("change event without recordIds")
	}
	header := &Header{
		RecordIDs: ids, ChangeOrigin: str("changeOrigin"), TransactionKey: str("transactionKey"),
		SequenceNumber: int32(num("sequenceNumber")), CommitTimestamp: time.UnixMilli(num("commitTimestamp")).UTC(),
		CommitNumber: num("commitNumber"), CommitUser: str("commitUser"),
	}
	fields := jsonFields(m.Payload)
	out := make([]Envelope, 0, len(ids))
	for _, id := range ids {
		out = append(out, Envelope{
			EnvelopeVersion: EnvelopeVersion, Kind: KindChange, Entity: str("entityName"), RecordID: strp(id),
			ChangeType: str("changeType"), Fields: fields, ChangedFields: list("changedFields"),
			NulledFields: []string{}, DiffFields: []string{}, Header: header, Channel: channel, ReplayID: replay,
			SchemaID: strp(m.Schema), OriginClient: strp(originClient(str("changeOrigin"))),
			DedupeKey: dedupeKey(channel, replay, id), ReceivedAt: now,
		})
	}
	return out, nil
}

// jsonFields flattens a CometD payload into envelope values.
func jsonFields(in map[string]any) map[string]any {
	out := map[string]any{}
	var put func(prefix string, m map[string]any)
	put = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			switch v := m[k].(type) {
			case map[string]any:
				put(name, v)
			case json.Number:
				if i, err := v.Int64(); err == nil {
					out[name] = i
				} else if f, err := v.Float64(); err == nil {
					out[name] = f
				}
			case bool, string, nil:
				out[name] = v
			default:
				b, _ := json.Marshal(v)
				out[name] = string(b)
			}
		}
	}
	put("", in)
	return out
}
