package cosmos

import (
	"context"
	"fmt"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib/schemaregistry"
)

// avroEnvelope is io.sfconnect.v1.ChangeEnvelope as Avro decodes it.
type avroEnvelope struct {
	EnvelopeVersion int            `avro:"envelope_version"`
	Kind            string         `avro:"kind"`
	Entity          string         `avro:"entity"`
	RecordID        *string        `avro:"record_id"`
	ChangeType      string         `avro:"change_type"`
	Fields          map[string]any `avro:"fields"`
	NulledFields    []string       `avro:"nulled_fields"`
	DiffFields      []string       `avro:"diff_fields"`
	Header          *struct {
		SequenceNumber  int32     `avro:"sequence_number"`
		CommitTimestamp time.Time `avro:"commit_timestamp"`
		CommitNumber    int64     `avro:"commit_number"`
	} `avro:"header"`
}

// avroDecoder decodes values in the Schema Registry wire format that the
// source writes with SOURCE_VALUE_FORMAT=avro.
type avroDecoder struct {
	wire *schemaregistry.Decoder
}

func newAvroDecoder(cfg Config) (*avroDecoder, error) {
	settings := cfg.registry()
	if len(settings.URLList()) == 0 {
		return nil, nil
	}
	cl, err := schemaregistry.NewClient(settings)
	if err != nil {
		return nil, err
	}
	return &avroDecoder{wire: schemaregistry.NewDecoder(cl, codeDecode)}, nil
}

// decode turns a wire-format value into an envelope.
func (d *avroDecoder) decode(ctx context.Context, value []byte) (*envelope, error) {
	var a avroEnvelope
	if _, err := d.wire.Decode(ctx, value, &a); err != nil {
		return nil, fmt.Errorf("decode the Avro change envelope: %w", err)
	}
	env := &envelope{EnvelopeVersion: a.EnvelopeVersion, Kind: a.Kind, Entity: a.Entity, RecordID: a.RecordID,
		ChangeType: a.ChangeType, Fields: a.Fields, NulledFields: a.NulledFields, DiffFields: a.DiffFields}
	if a.Header != nil {
		env.Header = &envelopeHeader{SequenceNumber: a.Header.SequenceNumber, CommitTimestamp: a.Header.CommitTimestamp, CommitNumber: a.Header.CommitNumber}
	}
	return env, nil
}
