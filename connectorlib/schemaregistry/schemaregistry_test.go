package schemaregistry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/schemaregistry"
)

const (
	v1 = `{"type":"record","name":"T","namespace":"test","fields":[{"name":"a","type":"string"}]}`
	v2 = `{"type":"record","name":"T","namespace":"test","fields":[{"name":"b","type":"long","default":0},{"name":"a","type":"string"}]}`
)

type target struct {
	A string `avro:"a"`
}

// register registers schema under subject and returns the wire-format
// encoding of value with it.
func register(t *testing.T, cl *sr.Client, subject, schema string, value any) []byte {
	t.Helper()
	got, err := cl.CreateSchema(context.Background(), subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := avro.Marshal(avro.MustParse(schema), value)
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	b, err := h.AppendEncode(nil, got.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, payload...)
}

func TestDecoder_Decode_WriterVersions(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := schemaregistry.NewClient(schemaregistry.Settings{URLs: " , " + reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	old := register(t, cl, "s-value", v1, map[string]any{"a": "one"})
	newer := register(t, cl, "s-value", v2, map[string]any{"a": "two", "b": int64(7)})
	d := schemaregistry.NewDecoder(cl, "TEST_DECODE")
	for want, value := range map[string][]byte{"one": old, "two": newer} {
		var got target
		if _, err := d.Decode(context.Background(), value, &got); err != nil || got.A != want {
			t.Fatalf("decoded %+v, %v; want a=%q", got, err, want)
		}
	}
}

func TestDecoder_Decode_ErrorClasses(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := schemaregistry.NewClient(schemaregistry.Settings{URLs: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	good := register(t, cl, "s-value", v1, map[string]any{"a": "x"})
	d := schemaregistry.NewDecoder(cl, "TEST_DECODE")
	unknown := append([]byte{0, 0, 0, 0x7f, 0x7f}, good[5:]...)
	cases := map[string][]byte{
		"no header":         []byte("{}"),
		"unknown id":        unknown,
		"empty payload":     good[:5],
		"truncated payload": good[:6],
	}
	for name, value := range cases {
		var got target
		_, err := d.Decode(context.Background(), value, &got)
		if err == nil || connectorlib.Classify(err) != connectorlib.ClassPermanent || connectorlib.Code(err) != "TEST_DECODE" {
			t.Errorf("%s: %v (class %s, code %q); want permanent TEST_DECODE", name, err, connectorlib.Classify(err), connectorlib.Code(err))
		}
	}

	down := srfake.New()
	url := down.URL()
	down.Close()
	dcl, err := schemaregistry.NewClient(schemaregistry.Settings{URLs: url})
	if err != nil {
		t.Fatal(err)
	}
	var got target
	_, err = schemaregistry.NewDecoder(dcl, "TEST_DECODE").Decode(context.Background(), good, &got)
	if err == nil || !connectorlib.IsRetryable(err) {
		t.Fatalf("registry down: %v, want retryable", err)
	}
}

func TestSettings_Validate(t *testing.T) {
	t.Parallel()
	const stem = "SFCONNECT_X_SCHEMA_REGISTRY"
	if errs := (schemaregistry.Settings{URLs: "http://a:8081, https://b"}).Validate(stem); len(errs) != 0 {
		t.Fatalf("valid settings rejected: %v", errs)
	}
	for _, tc := range []struct {
		s    schemaregistry.Settings
		want string
	}{
		{schemaregistry.Settings{URLs: "https://key:s3cret@registry"}, stem + "_URL: must not carry credentials"},
		{schemaregistry.Settings{URLs: "ftp://registry"}, stem + "_URL: \"ftp://registry\" is not an http(s) URL"},
		{schemaregistry.Settings{URLs: "http://r", Username: "key"}, stem + "_PASSWORD: set together with " + stem + "_USERNAME"},
	} {
		errs := tc.s.Validate(stem)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%+v: %v; want one error containing %q", tc.s, errs, tc.want)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error echoes the credentials: %v", err)
			}
		}
	}
	if _, err := schemaregistry.NewClient(schemaregistry.Settings{URLs: " ,"}); err == nil {
		t.Fatal("a client without a URL")
	}
}
