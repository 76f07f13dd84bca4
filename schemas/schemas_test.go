package schemas

import (
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

// TestChangeEnvelope_Parses checks the schema with both Avro libraries.
func TestChangeEnvelope_Parses(t *testing.T) {
	if _, err := avro.Parse(ChangeEnvelope); err != nil {
		t.Fatalf("hamba: %v", err)
	}
	if _, err := goavro.NewCodec(ChangeEnvelope); err != nil {
		t.Fatalf("goavro: %v", err)
	}
}
