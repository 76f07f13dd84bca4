package salesforce

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sfconnect/sfconnect/connectorlib/schemaregistry"
)

// avroChange is the Avro form of the envelope; the writer schema is
// resolved onto it by field name, so compatible writer schemas (extra
// fields, reordered fields) decode too.
type avroChange struct {
	EnvelopeVersion int             `avro:"envelope_version"`
	Object          string          `avro:"object"`
	Operation       string          `avro:"operation"`
	ExternalIDField *string         `avro:"external_id_field"`
	ExternalID      *string         `avro:"external_id"`
	RecordID        *string         `avro:"record_id"`
	Fields          map[string]any  `avro:"fields"`
	Previous        *map[string]any `avro:"previous"`
	ChangedAt       time.Time       `avro:"changed_at"`
	IdempotencyKey  string          `avro:"idempotency_key"`
}

// AvroDecoder decodes envelopes framed in the Confluent Schema Registry
// wire format (magic byte 0, 4-byte big-endian schema id, Avro binary):
// the writer schema is fetched by id once and cached. It is safe for
// concurrent use.
type AvroDecoder struct {
	wire *schemaregistry.Decoder
}

// NewAvroDecoder returns a decoder that looks schemas up through client.
func NewAvroDecoder(client *sr.Client) *AvroDecoder {
	return &AvroDecoder{wire: schemaregistry.NewDecoder(client, CodeDecode)}
}

// NewSchemaRegistryClient returns a client of the registry cfg names.
func NewSchemaRegistryClient(cfg Config) (*sr.Client, error) {
	return schemaregistry.NewClient(cfg.registry())
}

// Decode implements Decoder.
func (d *AvroDecoder) Decode(value []byte) (*Change, error) {
	var a avroChange
	if _, err := d.wire.Decode(context.Background(), value, &a); err != nil {
		return nil, fmt.Errorf("decode Avro change: %w", err)
	}
	c := &Change{
		Version: a.EnvelopeVersion, Object: a.Object, Operation: a.Operation,
		ExternalIDField: deref(a.ExternalIDField), ExternalID: deref(a.ExternalID), RecordID: deref(a.RecordID),
		Fields: a.Fields, ChangedAt: a.ChangedAt, IdempotencyKey: a.IdempotencyKey,
	}
	if a.Previous != nil {
		c.Previous = *a.Previous
	}
	if c.Fields == nil {
		c.Fields = map[string]any{}
	}
	return c, c.validate()
}
