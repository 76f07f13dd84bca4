package cosmos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// registryTimeout bounds one Schema Registry request.
const registryTimeout = 10 * time.Second

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

// avroDecoder decodes values in the Schema Registry wire format (magic
// byte 0, 4-byte schema id, Avro binary) that the source writes with
// SOURCE_VALUE_FORMAT=avro. Writer schemas are fetched by id once and
// cached.
type avroDecoder struct {
	client *sr.Client

	mu      sync.Mutex
	schemas map[int]avro.Schema
}

func newAvroDecoder(cfg Config) (*avroDecoder, error) {
	var urls []string
	for u := range strings.SplitSeq(cfg.SchemaRegistryURL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, nil
	}
	opts := []sr.ClientOpt{sr.URLs(urls...), sr.HTTPClient(&http.Client{Timeout: registryTimeout}), sr.UserAgent("sfconnect")}
	if cfg.SchemaRegistryUsername != "" {
		opts = append(opts, sr.BasicAuth(cfg.SchemaRegistryUsername, cfg.SchemaRegistryPassword))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("new Schema Registry client: %w", err)
	}
	return &avroDecoder{client: cl, schemas: map[int]avro.Schema{}}, nil
}

// schema returns the writer schema of id.
func (d *avroDecoder) schema(ctx context.Context, id int) (avro.Schema, error) {
	d.mu.Lock()
	s, ok := d.schemas[id]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	got, err := d.client.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf("schema id %d is not in the Schema Registry: %w", id, err))
		}
		// The registry is down or refuses us: nothing is wrong with the record.
		return nil, connectorlib.Retryable(fmt.Errorf("fetch schema id %d: %w", id, err))
	}
	s, err = avro.Parse(got.Schema)
	if err != nil {
		return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf("parse schema id %d: %w", id, err))
	}
	d.mu.Lock()
	d.schemas[id] = s
	d.mu.Unlock()
	return s, nil
}

// decode turns a wire-format value into an envelope.
func (d *avroDecoder) decode(ctx context.Context, value []byte) (*envelope, error) {
	var h sr.ConfluentHeader
	id, payload, err := h.DecodeID(value)
	if err != nil {
		return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf("read the Schema Registry header: %w", err))
	}
	s, err := d.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	var a avroEnvelope
	if err := avro.Unmarshal(s, payload, &a); err != nil {
		return nil, connectorlib.PermanentCode(codeDecode, fmt.Errorf("decode Avro change envelope (schema id %d): %w", id, err))
	}
	env := &envelope{EnvelopeVersion: a.EnvelopeVersion, Kind: a.Kind, Entity: a.Entity, RecordID: a.RecordID,
		ChangeType: a.ChangeType, Fields: a.Fields, NulledFields: a.NulledFields, DiffFields: a.DiffFields}
	if a.Header != nil {
		env.Header = &envelopeHeader{SequenceNumber: a.Header.SequenceNumber, CommitTimestamp: a.Header.CommitTimestamp, CommitNumber: a.Header.CommitNumber}
	}
	return env, nil
}
