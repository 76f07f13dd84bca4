package salesforce_test

import (
	"context"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/schemas"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// avroValue is the Avro form the web app writes (hamba field tags).
type avroValue struct {
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

// TestAvroDecoder_Decode registers the envelope schema in a Schema
// Registry, frames values in the Confluent wire format, and writes them
// through the sink.
func TestAvroDecoder_Decode(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ss, err := cl.CreateSchema(ctx, "webapp-value", sr.Schema{Schema: schemas.WebAppChange, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	schema := avro.MustParse(schemas.WebAppChange)
	frame := func(v avroValue) []byte {
		payload, err := avro.Marshal(schema, v)
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		b, err := h.AppendEncode(nil, ss.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, payload...)
	}
	ext := "av1"
	good := frame(avroValue{EnvelopeVersion: 1, Object: "customer", Operation: "UPSERT", ExternalID: &ext,
		Fields: map[string]any{"name": "Avro Inc", "employees": int64(7), "phone": nil}, ChangedAt: time.Now(), IdempotencyKey: "k1"})

	cfg := baseConfig()
	cfg.ValueFormat, cfg.SchemaRegistryURL = sfsink.ValueFormatAvro, reg.URL()
	rcl, err := sfsink.NewSchemaRegistryClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec := sfsink.NewAvroDecoder(rcl)
	c, err := dec.Decode(good)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if c.ExternalID != "av1" || c.Fields["name"] != "Avro Inc" || c.Fields["employees"] != int64(7) || c.Operation != sfsink.OpUpsert {
		t.Errorf("decoded %+v", c)
	}
	// An unknown schema id and a value without the wire header are
	// permanent; they would fail the same way forever.
	unknown := append([]byte{0, 0, 0, 0x7f, 0x7f}, good[5:]...)
	for name, v := range map[string][]byte{"unknown schema": unknown, "no header": []byte("{}")} {
		if _, err := dec.Decode(v); err == nil || connectorlib.IsRetryable(err) {
			t.Errorf("%s: Decode = %v; want a permanent error", name, err)
		}
	}

	// Through the sink.
	e := newEnv(t, baseConfig())
	sink, err := sfsink.New(cfg, sfsink.Deps{Connector: "avro", REST: e.rest, Tokens: tokensOf(t, e), Decoder: dec, Conflicts: &memConflicts{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, []connectorlib.Record{{Topic: "webapp", Key: []byte("av1"), Value: good}}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got := byExternalID(t, e.sim, "Account")["av1"]; got == nil || got["Name"] != "Avro Inc" {
		t.Errorf("Account av1 = %v", got)
	}
}
