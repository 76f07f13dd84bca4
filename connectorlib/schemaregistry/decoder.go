package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Decoder decodes values in the Schema Registry wire format into Go
// values. Each writer schema is fetched by id once and cached; the writer
// schema is resolved onto the target by field name, so compatible writer
// versions (added or reordered fields) decode too. Safe for concurrent use.
type Decoder struct {
	client *sr.Client
	code   string // the permanent error code of undecodable values

	mu      sync.Mutex
	schemas map[int]avro.Schema
}

// NewDecoder returns a decoder that looks schemas up through client;
// values that cannot be decoded fail with connectorlib.PermanentCode(code).
func NewDecoder(client *sr.Client, code string) *Decoder {
	return &Decoder{client: client, code: code, schemas: map[int]avro.Schema{}}
}

// Decode unmarshals value into v (a pointer to a struct with avro tags)
// and returns the writer schema's id. A malformed header, an empty payload, an id the
// registry does not know, a schema that does not parse or a payload that
// does not decode is permanent (the record is bad); a registry that cannot
// be reached is retryable (nothing is wrong with the record).
func (d *Decoder) Decode(ctx context.Context, value []byte, v any) (int, error) {
	var h sr.ConfluentHeader
	id, payload, err := h.DecodeID(value)
	if err != nil {
		return 0, connectorlib.PermanentCode(d.code, fmt.Errorf("read the Schema Registry header: %w", err))
	}
	if len(payload) == 0 {
		// hamba decodes an empty payload to zero values without an error;
		// no envelope the connectors read encodes to nothing.
		return id, connectorlib.PermanentCode(d.code, fmt.Errorf("empty Avro value after the Schema Registry header (schema id %d)", id))
	}
	s, err := d.schema(ctx, id)
	if err != nil {
		return id, err
	}
	if err := avro.Unmarshal(s, payload, v); err != nil {
		return id, connectorlib.PermanentCode(d.code, fmt.Errorf("decode Avro value (schema id %d): %w", id, err))
	}
	return id, nil
}

// schema returns the writer schema of id. The lock is not held while the
// registry is asked: two first uses of one id may both fetch it, which is
// harmless, and a slow registry does not hold up decoding of known ids.
func (d *Decoder) schema(ctx context.Context, id int) (avro.Schema, error) {
	d.mu.Lock()
	s, ok := d.schemas[id]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	got, err := d.client.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, connectorlib.PermanentCode(d.code, fmt.Errorf("schema id %d is not in the Schema Registry: %w", id, err))
		}
		return nil, connectorlib.Retryable(fmt.Errorf("fetch schema id %d: %w", id, err))
	}
	// A cache of its own per schema: versions of one record name differ,
	// and hamba's shared cache would resolve a later version's named types
	// to the first one parsed.
	s, err = avro.ParseWithCache(got.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, connectorlib.PermanentCode(d.code, fmt.Errorf("parse schema id %d: %w", id, err))
	}
	d.mu.Lock()
	d.schemas[id] = s
	d.mu.Unlock()
	return s, nil
}
