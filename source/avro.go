package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/schemaregistry"
	"github.com/sfconnect/sfconnect/schemas"
)

// Value formats (SOURCE_VALUE_FORMAT).
const (
	// ValueFormatJSON writes envelopes as JSON (JSONEncoder).
	ValueFormatJSON = "json"
	// ValueFormatAvro writes envelopes as Avro in the Confluent Schema
	// Registry wire format (AvroEncoder).
	ValueFormatAvro = "avro"
)

// SubjectSuffix is appended to a topic to name its value subject
// (Confluent's TopicNameStrategy: <topic>-value).
const SubjectSuffix = "-value"

// registryTimeout bounds one Schema Registry call made by Encode, which has
// no context of its own: long enough for a registry under load, short
// enough that a stopping runner is not held up for long.
const registryTimeout = schemaregistry.RequestTimeout

// Machine-readable codes of the encoder's permanent errors
// (connectorlib.Code).
const (
	CodeSchemaIncompatible = "SCHEMA_INCOMPATIBLE"
	CodeSchemaRejected     = "SCHEMA_REJECTED"
	CodeAvroEncode         = "AVRO_ENCODE"
)

// AvroEncoder writes envelopes as Avro (schemas.ChangeEnvelope) framed in
// the Confluent Schema Registry wire format: a zero magic byte, the schema
// id as a 4-byte big-endian integer, then the Avro binary encoding.
//
// The schema is registered under the subject <topic>-value
// (TopicNameStrategy) the first time a topic is encoded; the id is cached
// per subject for the encoder's lifetime, so later envelopes cost no
// registry call. Registering an already registered schema returns its
// existing id, so registration is idempotent across restarts and replicas.
//
// Encode is safe for concurrent use. Registrations are serialized; cached
// topics never wait for one. A registration failure is retryable (the
// runner restarts the session and the next Encode tries again), except
// when the registry rejects the schema as incompatible with the subject's
// earlier versions or as invalid: those are permanent errors.
type AvroEncoder struct {
	client *sr.Client
	schema avro.Schema
	header sr.ConfluentHeader

	regMu sync.Mutex // held while registering, so each subject is registered once
	mu    sync.RWMutex
	ids   map[string]int // subject -> schema id
}

// NewAvroEncoder returns an encoder that registers schemas through client.
func NewAvroEncoder(client *sr.Client) (*AvroEncoder, error) {
	if client == nil {
		return nil, errors.New("new Avro encoder: nil Schema Registry client")
	}
	// A private cache: another schema of the same name parsed elsewhere in
	// the process (an older envelope, a test's) cannot replace ours.
	s, err := avro.ParseWithCache(schemas.ChangeEnvelope, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse the envelope schema: %w", err)
	}
	return &AvroEncoder{client: client, schema: s, ids: map[string]int{}}, nil
}

// NewValueEncoder returns the encoder SOURCE_VALUE_FORMAT selects: JSON,
// or Avro registered in the Schema Registry cfg names. It makes no
// network call.
func NewValueEncoder(cfg Config) (ValueEncoder, error) {
	switch cfg.ValueFormat {
	case "", ValueFormatJSON:
		return JSONEncoder{}, nil
	case ValueFormatAvro:
		cl, err := NewSchemaRegistryClient(cfg)
		if err != nil {
			return nil, err
		}
		return NewAvroEncoder(cl)
	}
	return nil, fmt.Errorf("new value encoder: unknown value format %q", cfg.ValueFormat)
}

// NewSchemaRegistryClient returns a client of the registry in
// SOURCE_SCHEMA_REGISTRY_URL (several comma-separated URLs are tried in
// order), with HTTP basic auth when a username is set.
func NewSchemaRegistryClient(cfg Config) (*sr.Client, error) {
	return schemaregistry.NewClient(cfg.registry())
}

// Encode implements ValueEncoder.
func (e *AvroEncoder) Encode(topic string, env *Envelope) ([]byte, error) {
	id, err := e.schemaID(topic + SubjectSuffix)
	if err != nil {
		return nil, err
	}
	payload, err := avro.Marshal(e.schema, env.withFieldMap())
	if err != nil {
		return nil, connectorlib.PermanentCode(CodeAvroEncode,
			fmt.Errorf("encode %s envelope %s as Avro: %w", env.Kind, env.DedupeKey, err))
	}
	// The Confluent header is 5 bytes: magic byte 0 and the big-endian id.
	b, err := e.header.AppendEncode(make([]byte, 0, 5+len(payload)), id, nil)
	if err != nil {
		return nil, fmt.Errorf("frame Avro value: %w", err)
	}
	return append(b, payload...), nil
}

// schemaID returns the id of the envelope schema under subject,
// registering it on first use.
func (e *AvroEncoder) schemaID(subject string) (int, error) {
	e.mu.RLock()
	id, ok := e.ids[subject]
	e.mu.RUnlock()
	if ok {
		return id, nil
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	e.mu.RLock()
	id, ok = e.ids[subject] // another caller may have registered it meanwhile
	e.mu.RUnlock()
	if ok {
		return id, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	id, err := e.client.RegisterSchema(ctx, subject, sr.Schema{Schema: schemas.ChangeEnvelope, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, e.registerError(ctx, subject, err)
	}
	e.mu.Lock()
	e.ids[subject] = id
	e.mu.Unlock()
	return id, nil
}

// registerError classifies a registration failure: the registry refusing
// the schema is permanent, anything else (unreachable, 5xx, timeouts,
// authentication) is retryable.
func (e *AvroEncoder) registerError(ctx context.Context, subject string, err error) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return connectorlib.Retryable(fmt.Errorf("register value schema under subject %s: %w", subject, err))
	}
	switch {
	case re.ErrorCode == sr.ErrIncompatibleSchema.Code || re.StatusCode == http.StatusConflict:
		level := "unknown"
		if res := e.client.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subject); len(res) == 1 && res[0].Err == nil {
			level = res[0].Level.String()
		}
		return connectorlib.PermanentCode(CodeSchemaIncompatible, fmt.Errorf(
			"register value schema under subject %s: the registry rejects %s as incompatible with the subject's "+
				"existing versions (compatibility %s); make the subject's schemas compatible (delete the old "+
				"versions or relax its compatibility), or route the topic elsewhere (%s_SOURCE_TOPIC_TEMPLATE): "+
				"HTTP %d, error code %d: %w",
			subject, envelopeSchemaName, level, connectorlib.EnvPrefix, re.StatusCode, re.ErrorCode, err))
	case sr.IsInvalidRequestError(re.ErrorCode):
		return connectorlib.PermanentCode(CodeSchemaRejected, fmt.Errorf(
			"register value schema under subject %s: the registry rejects the request as invalid: HTTP %d, error code %d: %w",
			subject, re.StatusCode, re.ErrorCode, err))
	}
	return connectorlib.Retryable(fmt.Errorf("register value schema under subject %s: HTTP %d, error code %d: %w",
		subject, re.StatusCode, re.ErrorCode, err))
}

// envelopeSchemaName is the full name of schemas.ChangeEnvelope.
const envelopeSchemaName = "io.sfconnect.v1.ChangeEnvelope"

// registry returns the Schema Registry settings.
func (c Config) registry() schemaregistry.Settings {
	return schemaregistry.Settings{URLs: c.SchemaRegistryURL, Username: c.SchemaRegistryUsername, Password: c.SchemaRegistryPassword}
}

// validateValueFormat checks SOURCE_VALUE_FORMAT and the Schema Registry
// settings it needs; p is the variable prefix.
func (c Config) validateValueFormat(p string) []error {
	var errs []error
	switch c.ValueFormat {
	case "", ValueFormatJSON: // "" is a Config built in code: JSON, as in NewValueEncoder
		return nil
	case ValueFormatAvro:
	default:
		return []error{fmt.Errorf("%sSOURCE_VALUE_FORMAT: must be json or avro, got %q", p, c.ValueFormat)}
	}
	if len(c.registry().URLList()) == 0 {
		errs = append(errs, fmt.Errorf("%sSOURCE_SCHEMA_REGISTRY_URL: required when %sSOURCE_VALUE_FORMAT=avro", p, p))
	}
	errs = append(errs, c.registry().Validate(p+"SOURCE_SCHEMA_REGISTRY")...)
	return errs
}
