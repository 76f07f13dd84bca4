package salesforce

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

// registryTimeout bounds one Schema Registry lookup.
const registryTimeout = 10 * time.Second

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
	client *sr.Client
	header sr.ConfluentHeader

	mu      sync.Mutex
	schemas map[int]avro.Schema
}

// NewAvroDecoder returns a decoder that looks schemas up through client.
func NewAvroDecoder(client *sr.Client) *AvroDecoder {
	return &AvroDecoder{client: client, schemas: map[int]avro.Schema{}}
}

// NewSchemaRegistryClient returns a client of the registry cfg names.
func NewSchemaRegistryClient(cfg Config) (*sr.Client, error) {
	var urls []string
	for _, u := range strings.Split(cfg.SchemaRegistryURL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("new Schema Registry client: no URL")
	}
	opts := []sr.ClientOpt{sr.URLs(urls...), sr.HTTPClient(&http.Client{Timeout: registryTimeout}), sr.UserAgent("sfconnect")}
	if cfg.SchemaRegistryUsername != "" {
		opts = append(opts, sr.BasicAuth(cfg.SchemaRegistryUsername, cfg.SchemaRegistryPassword))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("new Schema Registry client: %w", err)
	}
	return cl, nil
}

// Decode implements Decoder.
func (d *AvroDecoder) Decode(value []byte) (*Change, error) {
	id, payload, err := d.header.DecodeID(value)
	if err != nil {
		return nil, connectorlib.PermanentCode(CodeDecode, fmt.Errorf("decode Avro change: %w", err))
	}
	schema, err := d.schema(id)
	if err != nil {
		return nil, err
	}
	var a avroChange
	if err := avro.Unmarshal(schema, payload, &a); err != nil {
		return nil, connectorlib.PermanentCode(CodeDecode, fmt.Errorf("decode Avro change (schema %d): %w", id, err))
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

// schema returns the parsed writer schema id, fetching it on first use. A
// registry failure is retryable; an id the registry does not know, or a
// schema that does not parse, is permanent.
func (d *AvroDecoder) schema(id int) (avro.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[id]; ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	got, err := d.client.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, connectorlib.PermanentCode(CodeDecode, fmt.Errorf("schema %d: %w", id, err))
		}
		return nil, connectorlib.Retryable(fmt.Errorf("look up schema %d: %w", id, err))
	}
	s, err := avro.ParseWithCache(got.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, connectorlib.PermanentCode(CodeDecode, fmt.Errorf("parse schema %d: %w", id, err))
	}
	d.schemas[id] = s
	return s, nil
}
