package schemas

import (
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

// TestWebAppChange_Parses checks the schema with both Avro libraries and
// that it is version 1 of its own name.
func TestWebAppChange_Parses(t *testing.T) {
	s, err := avro.Parse(WebAppChange)
	if err != nil {
		t.Fatalf("hamba: %v", err)
	}
	if _, err := goavro.NewCodec(WebAppChange); err != nil {
		t.Fatalf("goavro: %v", err)
	}
	rs, ok := s.(*avro.RecordSchema)
	if !ok || rs.FullName() != "io.sfconnect.v1.WebAppChange" {
		t.Fatalf("schema is %T %v; want record io.sfconnect.v1.WebAppChange", s, s)
	}
}
