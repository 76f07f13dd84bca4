package salesforce_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/schemas"
	sfsink "github.com/sfconnect/sfconnect/sink/salesforce"
)

// The real Schema Registry (Apicurio Registry's Confluent-compatible API),
// resolved by scripts/schema-registry/install.sh; scripts/test.sh exports
// both variables.
const (
	envApicurioJar      = "TEST_APICURIO_JAR"
	envRegistryRequired = "TEST_SCHEMA_REGISTRY_REQUIRED"
)

// startApicurio starts Apicurio Registry (in-memory storage) on a free
// 127.0.0.1 port and returns its Confluent-compatible URL and a function
// that stops it by PID (also run when t ends).
func startApicurio(t *testing.T) (url string, stop func()) {
	t.Helper()
	jar := os.Getenv(envApicurioJar)
	if jar == "" {
		if os.Getenv(envRegistryRequired) == "1" {
			t.Fatalf("%s is not set but %s=1", envApicurioJar, envRegistryRequired)
		}
		t.Skipf("%s not set: no real Schema Registry", envApicurioJar)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	logPath := filepath.Join(t.TempDir(), "apicurio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("java", "-Xmx512m", "-Dquarkus.http.host=127.0.0.1", fmt.Sprintf("-Dquarkus.http.port=%d", port),
		"-Dquarkus.log.level=WARN", "-jar", jar)
	cmd.Dir = filepath.Dir(jar)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Apicurio Registry: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(done) }()
	stop = func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	url = fmt.Sprintf("http://127.0.0.1:%d/apis/ccompat/v7", port)
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(3 * time.Minute) // JVM start-up on two busy cores
	for {
		if resp, err := hc.Get(url + "/subjects"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, stop
			}
		}
		select {
		case <-done:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("Apicurio Registry exited during start-up:\n%s", out)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("Apicurio Registry not ready after 3m:\n%s", out)
		}
	}
}

// TestAvroDecoder_Apicurio decodes Confluent-framed envelopes whose schema a
// real registry holds, and checks that a value whose schema the decoder has
// not fetched yet fails retryably while the registry is down.
func TestAvroDecoder_Apicurio(t *testing.T) {
	url, stop := startApicurio(t)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ss, err := cl.CreateSchema(ctx, "webapp.changes-value", sr.Schema{Schema: schemas.WebAppChange, Type: sr.TypeAvro})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	// A second, compatible version: one more optional field.
	v2 := `{"type":"record","name":"WebAppChange","namespace":"io.sfconnect.v1","fields":[` +
		`{"name":"envelope_version","type":"int"},{"name":"object","type":"string"},` +
		`{"name":"operation","type":{"type":"enum","name":"Operation","symbols":["UPSERT","UPDATE","DELETE"]}},` +
		`{"name":"external_id","type":["null","string"],"default":null},` +
		`{"name":"fields","type":{"type":"map","values":["null","boolean","long","double","string"]},"default":{}},` +
		`{"name":"changed_at","type":{"type":"long","logicalType":"timestamp-millis"}},` +
		`{"name":"idempotency_key","type":"string"},{"name":"source_app","type":["null","string"],"default":null}]}`
	ss2, err := cl.CreateSchema(ctx, "webapp.changes-value", sr.Schema{Schema: v2, Type: sr.TypeAvro})
	if err != nil {
		t.Fatalf("register v2: %v", err)
	}
	v3 := strings.Replace(v2, `"source_app"`, `"source_host"`, 1)
	ss3, err := cl.CreateSchema(ctx, "webapp.changes-value", sr.Schema{Schema: v3, Type: sr.TypeAvro})
	if err != nil {
		t.Fatalf("register v3: %v", err)
	}
	frame := func(schemaText string, id int, v any) []byte {
		payload, err := avro.Marshal(avro.MustParse(schemaText), v)
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		b, _ := h.AppendEncode(nil, id, nil)
		return append(b, payload...)
	}
	ext := "ap1"
	v1Value := frame(schemas.WebAppChange, ss.ID, avroValue{EnvelopeVersion: 1, Object: "customer", Operation: "UPSERT", ExternalID: &ext,
		Fields: map[string]any{"name": "Apicurio"}, ChangedAt: time.UnixMilli(1_760_000_000_000), IdempotencyKey: "a1"})
	app := "crm"
	v2Value := frame(v2, ss2.ID, map[string]any{"envelope_version": 1, "object": "customer", "operation": "UPDATE", "external_id": &ext,
		"fields": map[string]any{"phone": "5"}, "changed_at": time.UnixMilli(1_760_000_000_001), "idempotency_key": "a2", "source_app": &app})

	cfg := baseConfig()
	cfg.ValueFormat, cfg.SchemaRegistryURL = sfsink.ValueFormatAvro, url
	rcl, err := sfsink.NewSchemaRegistryClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec := sfsink.NewAvroDecoder(rcl)
	c1, err := dec.Decode(v1Value)
	if err != nil || c1.Fields["name"] != "Apicurio" || c1.ExternalID != "ap1" {
		t.Fatalf("decode v1: %+v, %v", c1, err)
	}
	c2, err := dec.Decode(v2Value)
	if err != nil || c2.Operation != sfsink.OpUpdate || c2.Fields["phone"] != "5" || c2.IdempotencyKey != "a2" {
		t.Fatalf("decode v2 (an extra field the sink does not know): %+v, %v", c2, err)
	}
	v3Value := frame(v3, ss3.ID, map[string]any{"envelope_version": 1, "object": "customer", "operation": "DELETE", "external_id": &ext,
		"fields": map[string]any{}, "changed_at": time.UnixMilli(1_760_000_000_002), "idempotency_key": "a3", "source_host": &app})
	stop()
	if _, err := dec.Decode(v1Value); err != nil {
		t.Errorf("a cached schema needs no registry: %v", err)
	}
	if _, err := dec.Decode(v3Value); err == nil || !connectorlib.IsRetryable(err) {
		t.Errorf("an uncached schema with the registry down: %v; want a retryable error", err)
	}
}
