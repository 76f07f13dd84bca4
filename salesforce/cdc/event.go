package cdc

import (
	"fmt"
	"time"

	"github.com/hamba/avro/v2"
)

// ChangeType is the changeType of a change event, an Avro enum symbol.
type ChangeType string

// Change types (protocol reference §2.1), in the symbol order of the
// ChangeType enum.
const (
	ChangeTypeCreate      ChangeType = "CREATE"
	ChangeTypeUpdate      ChangeType = "UPDATE"
	ChangeTypeDelete      ChangeType = "DELETE"
	ChangeTypeUndelete    ChangeType = "UNDELETE"
	ChangeTypeGapCreate   ChangeType = "GAP_CREATE"
	ChangeTypeGapUpdate   ChangeType = "GAP_UPDATE"
	ChangeTypeGapDelete   ChangeType = "GAP_DELETE"
	ChangeTypeGapUndelete ChangeType = "GAP_UNDELETE"
	ChangeTypeGapOverflow ChangeType = "GAP_OVERFLOW"
	// ChangeTypeSnapshot is reserved by Salesforce.
	ChangeTypeSnapshot ChangeType = "SNAPSHOT"
)

// changeTypes lists the ChangeType enum symbols in schema order.
var changeTypes = []ChangeType{
	ChangeTypeCreate, ChangeTypeUpdate, ChangeTypeDelete, ChangeTypeUndelete,
	ChangeTypeGapCreate, ChangeTypeGapUpdate, ChangeTypeGapDelete, ChangeTypeGapUndelete,
	ChangeTypeGapOverflow, ChangeTypeSnapshot,
}

// Header is the ChangeEventHeader of a change event (protocol reference
// §2.1). The JSON tags are the Avro field names.
type Header struct {
	// EntityName is the sObject, for example Account or MyObject__c.
	EntityName string `json:"entityName"`
	// RecordIDs are the changed records; usually one, several for merged
	// changes, ["000000000000000AAA"] for GAP_OVERFLOW.
	RecordIDs []string `json:"recordIds"`
	// ChangeType is the kind of change.
	ChangeType ChangeType `json:"changeType"`
	// ChangeOrigin is "com/salesforce/api/<api>/<version>;client=<id>", or
	// empty for changes made outside the API.
	ChangeOrigin string `json:"changeOrigin"`
	// TransactionKey groups the events of one transaction.
	TransactionKey string `json:"transactionKey"`
	// SequenceNumber orders events within a transaction, from 1.
	SequenceNumber int32 `json:"sequenceNumber"`
	// CommitTimestamp is the commit time in milliseconds since the Unix
	// epoch.
	CommitTimestamp int64 `json:"commitTimestamp"`
	// CommitNumber is the system change number; diagnostic only. It can
	// exceed 2^53, so JSON consumers should not read it as a double.
	CommitNumber int64 `json:"commitNumber"`
	// CommitUser is the id of the user who committed the change.
	CommitUser string `json:"commitUser"`
	// NulledFields, DiffFields and ChangedFields are bitmap arrays (see
	// [Schema.EncodeFields]) as carried on the wire; [Schema.DecodeFields]
	// turns them into names.
	NulledFields  []string `json:"nulledFields"`
	DiffFields    []string `json:"diffFields"`
	ChangedFields []string `json:"changedFields"`
}

// CommitTime returns CommitTimestamp as a time in UTC.
func (h Header) CommitTime() time.Time {
	return time.UnixMilli(h.CommitTimestamp).UTC()
}

// ChangeEvent is one decoded change event.
type ChangeEvent struct {
	// Header is the ChangeEventHeader.
	Header Header
	// Fields maps top-level field names to values (see the package doc for
	// the Go types); a compound field's value is a map[string]any of its
	// non-null components by nested name (City, not BillingCity). Decode
	// leaves null fields out; Encode treats a missing key and a nil value
	// alike, as null, which in Pub/Sub means unchanged or empty.
	Fields map[string]any
}

// PlatformEvent is one decoded platform event: CreatedDate (int64 epoch
// ms), CreatedById (string) and the custom fields, by field name. Decode
// leaves null fields out; Encode treats a missing key and a nil value
// alike. Platform events have their own methods rather than a shared
// generic form because their schemas have no header and no field bitmaps.
type PlatformEvent struct {
	// Fields maps field names to values.
	Fields map[string]any
}

// codec is the hamba configuration used for encoding, and for the Reader
// that decoding reads primitives with.
var codec = avro.Config{
	// Arrays are written as one block with a plain count, without the
	// optional block byte size, as Avro's Java writer does (what Salesforce
	// sends is [UNVERIFIED]); every Avro reader takes any blocking. 1<<30
	// is "never split": no array of a 1 MB event comes near it.
	DisableBlockSizeHeader: true,
	BlockLength:            1 << 30,
	// A Salesforce event message is at most 1 MB (protocol reference §3),
	// so no string or bytes value can be longer.
	MaxByteSliceSize: 1 << 20,
	// Unused by readValue, which has its own bound; kept equal for any
	// direct use of hamba's decoder.
	MaxSliceAllocSize: maxItems,
}.Freeze()

// Encode writes ev as the Avro binary payload of a change event. The header
// bitmaps must be valid for s (see [Schema.DecodeFields]); Fields may only
// name body fields of s, with values of the field's type.
func (s *Schema) Encode(ev *ChangeEvent) ([]byte, error) {
	if err := s.needKind(KindChangeEvent); err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, fmt.Errorf("encode %s: %w: nil event", s.Name(), ErrInvalidValue)
	}
	for _, bm := range []struct {
		name    string
		bitmaps []string
	}{
		{"nulledFields", ev.Header.NulledFields}, {"diffFields", ev.Header.DiffFields}, {"changedFields", ev.Header.ChangedFields},
	} {
		if _, err := s.DecodeFields(bm.bitmaps); err != nil {
			return nil, fmt.Errorf("encode %s: %s: %w", s.Name(), bm.name, err)
		}
	}
	return s.encodeChange(ev)
}

// encodeChange is Encode without the header bitmap check.
func (s *Schema) encodeChange(ev *ChangeEvent) ([]byte, error) {
	if _, ok := ev.Fields[HeaderField]; ok {
		return nil, fmt.Errorf("encode %s: %s is not a body field: %w", s.Name(), HeaderField, ErrUnknownField)
	}
	rec := make(map[string]any, len(ev.Fields)+1)
	for k, v := range ev.Fields {
		rec[k] = v
	}
	h := ev.Header
	rec[HeaderField] = map[string]any{
		"entityName":      h.EntityName,
		"recordIds":       h.RecordIDs,
		"changeType":      string(h.ChangeType),
		"changeOrigin":    h.ChangeOrigin,
		"transactionKey":  h.TransactionKey,
		"sequenceNumber":  h.SequenceNumber,
		"commitTimestamp": h.CommitTimestamp,
		"commitNumber":    h.CommitNumber,
		"commitUser":      h.CommitUser,
		"nulledFields":    h.NulledFields,
		"diffFields":      h.DiffFields,
		"changedFields":   h.ChangedFields,
	}
	return s.encodeRecord(rec)
}

// Decode reads the Avro binary payload of a change event. Trailing bytes
// after the event are an error.
func (s *Schema) Decode(payload []byte) (*ChangeEvent, error) {
	if err := s.needKind(KindChangeEvent); err != nil {
		return nil, err
	}
	rec, err := s.decodeRecord(payload)
	if err != nil {
		return nil, err
	}
	hm, ok := rec[HeaderField].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode %s: %w: no %s", s.Name(), ErrMalformedPayload, HeaderField)
	}
	delete(rec, HeaderField)
	h, err := headerFromMap(hm)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", s.Name(), ErrMalformedPayload, err)
	}
	return &ChangeEvent{Header: h, Fields: rec}, nil
}

// EncodePlatform writes ev as the Avro binary payload of a platform event.
// CreatedDate and CreatedById are required.
func (s *Schema) EncodePlatform(ev *PlatformEvent) ([]byte, error) {
	if err := s.needKind(KindPlatformEvent); err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, fmt.Errorf("encode %s: %w: nil event", s.Name(), ErrInvalidValue)
	}
	return s.encodeRecord(ev.Fields)
}

// DecodePlatform reads the Avro binary payload of a platform event.
// Trailing bytes after the event are an error.
func (s *Schema) DecodePlatform(payload []byte) (*PlatformEvent, error) {
	if err := s.needKind(KindPlatformEvent); err != nil {
		return nil, err
	}
	rec, err := s.decodeRecord(payload)
	if err != nil {
		return nil, err
	}
	return &PlatformEvent{Fields: rec}, nil
}

// encodeRecord checks and converts the top-level record, then marshals it.
func (s *Schema) encodeRecord(rec map[string]any) ([]byte, error) {
	if rec == nil {
		rec = map[string]any{}
	}
	v, err := recordToAvro(s.avro, rec, "", 0)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", s.Name(), err)
	}
	b, err := codec.Marshal(s.avro, v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w: %w", s.Name(), ErrInvalidValue, err)
	}
	return b, nil
}

// decodeRecord decodes payload into this package's value types, null
// fields left out.
func (s *Schema) decodeRecord(payload []byte) (map[string]any, error) {
	r := avro.NewReader(nil, 0, avro.WithReaderConfig(codec)).Reset(payload)
	v, err := readValue(r, s.avro, 0)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", s.Name(), ErrMalformedPayload, err)
	}
	// Peek on an exhausted buffer sets io.EOF; no error means bytes are left.
	r.Peek()
	if r.Error == nil {
		return nil, fmt.Errorf("decode %s: %w: trailing bytes", s.Name(), ErrMalformedPayload)
	}
	rec, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode %s: %w: not a record", s.Name(), ErrMalformedPayload)
	}
	return rec, nil
}

// headerFromMap reads a decoded ChangeEventHeader (see headerFrom).
func headerFromMap(m map[string]any) (Header, error) {
	return headerFrom(func(key string) any { return m[key] })
}
