package salesforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Operations of a web-app change (schemas/webapp_change.avsc).
const (
	OpUpsert = "UPSERT"
	OpUpdate = "UPDATE"
	OpDelete = "DELETE"
)

// EnvelopeVersion is the version of the web-app change envelope this sink
// reads.
const EnvelopeVersion = 1

// Machine-readable codes of the sink's permanent record errors, carried
// into dead-letter headers (sfconnect.dlq.error_code). Salesforce's own
// statusCode is used for records Salesforce refused.
const (
	CodeDecode      = "DECODE"
	CodeInvalid     = "INVALID_CHANGE"
	CodeUnmapped    = "UNMAPPED"
	CodeNotFound    = "NOT_FOUND"
	CodeBulkFailure = "BULK_JOB"
)

// Change is one decoded web-app change envelope
// (io.sfconnect.v1.WebAppChange). Field values are nil, bool, int64,
// float64, json.Number or string.
type Change struct {
	Version         int
	Object          string
	Operation       string
	ExternalIDField string
	ExternalID      string
	RecordID        string
	Fields          map[string]any
	// Previous is nil when the envelope carried none.
	Previous       map[string]any
	ChangedAt      time.Time
	IdempotencyKey string
}

// validate checks what every envelope needs.
func (c *Change) validate() error {
	var errs []error
	if c.Version != EnvelopeVersion {
		errs = append(errs, fmt.Errorf("envelope_version %d is not supported (want %d)", c.Version, EnvelopeVersion))
	}
	if c.Object == "" {
		errs = append(errs, errors.New("object is empty"))
	}
	switch c.Operation {
	case OpUpsert, OpUpdate, OpDelete:
	default:
		errs = append(errs, fmt.Errorf("operation %q is not UPSERT, UPDATE or DELETE", c.Operation))
	}
	if c.ChangedAt.IsZero() {
		errs = append(errs, errors.New("changed_at is missing"))
	}
	if c.IdempotencyKey == "" {
		errs = append(errs, errors.New("idempotency_key is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return connectorlib.PermanentCode(CodeInvalid, fmt.Errorf("invalid change: %w", err))
	}
	return nil
}

// jsonChange is the JSON form of the envelope.
type jsonChange struct {
	Version         *int            `json:"envelope_version"`
	Object          string          `json:"object"`
	Operation       string          `json:"operation"`
	ExternalIDField *string         `json:"external_id_field"`
	ExternalID      *string         `json:"external_id"`
	RecordID        *string         `json:"record_id"`
	Fields          map[string]any  `json:"fields"`
	Previous        map[string]any  `json:"previous"`
	ChangedAt       json.RawMessage `json:"changed_at"`
	IdempotencyKey  string          `json:"idempotency_key"`
}

// Decoder turns a Kafka record's value into a Change.
type Decoder interface {
	// Decode decodes and validates one value; errors are permanent
	// (connectorlib.PermanentCode) unless the decoder needed a remote
	// service (a Schema Registry) that failed.
	Decode(value []byte) (*Change, error)
}

// JSONDecoder decodes JSON envelopes; unknown keys are refused, so that a
// misspelt field cannot silently drop data.
type JSONDecoder struct{}

// Decode implements Decoder.
func (JSONDecoder) Decode(value []byte) (*Change, error) {
	var j jsonChange
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, connectorlib.PermanentCode(CodeDecode, fmt.Errorf("decode JSON change: %w", err))
	}
	if dec.More() {
		return nil, connectorlib.PermanentCode(CodeDecode, errors.New("decode JSON change: data after the object"))
	}
	c := &Change{Object: j.Object, Operation: strings.ToUpper(j.Operation), Fields: j.Fields, Previous: j.Previous, IdempotencyKey: j.IdempotencyKey}
	if j.Version != nil {
		c.Version = *j.Version
	}
	c.ExternalIDField, c.ExternalID, c.RecordID = deref(j.ExternalIDField), deref(j.ExternalID), deref(j.RecordID)
	t, err := parseChangedAt(j.ChangedAt)
	if err != nil {
		return nil, connectorlib.PermanentCode(CodeDecode, err)
	}
	c.ChangedAt = t
	for k, v := range c.Fields {
		if !scalar(v) {
			return nil, connectorlib.PermanentCode(CodeDecode, fmt.Errorf("decode JSON change: field %q is not a scalar", k))
		}
	}
	if c.Fields == nil {
		c.Fields = map[string]any{}
	}
	return c, c.validate()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// scalar reports whether v is a value a Salesforce field can take.
func scalar(v any) bool {
	switch v.(type) {
	case nil, bool, string, json.Number, int64, float64, int32, float32, int:
		return true
	}
	return false
}

// parseChangedAt reads changed_at: epoch milliseconds or RFC 3339.
func parseChangedAt(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("changed_at: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("changed_at: %w", err)
		}
		return t, nil
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return time.Time{}, fmt.Errorf("changed_at: not epoch milliseconds or RFC 3339: %s", raw)
	}
	return time.UnixMilli(ms), nil
}

// MarshalJSON writes the change in the envelope's JSON form (changed_at as
// epoch milliseconds), as the conflicts topic carries it.
func (c *Change) MarshalJSON() ([]byte, error) {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	v := c.Version
	ms, _ := json.Marshal(c.ChangedAt.UnixMilli())
	return json.Marshal(jsonChange{
		Version: &v, Object: c.Object, Operation: c.Operation,
		ExternalIDField: opt(c.ExternalIDField), ExternalID: opt(c.ExternalID), RecordID: opt(c.RecordID),
		Fields: c.Fields, Previous: c.Previous, ChangedAt: ms, IdempotencyKey: c.IdempotencyKey,
	})
}
