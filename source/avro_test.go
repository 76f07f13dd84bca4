package source_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/schemas"
	"github.com/sfconnect/sfconnect/source"
)

// Environment variables of the real Schema Registry test.
const (
	// envApicurioJar is the path of Apicurio Registry's runnable jar
	// (io.apicurio:apicurio-registry-app:3.0.9, tar.gz classifier "all",
	// from Maven Central; the jar is apicurio-registry-app-3.0.9-runner.jar
	// with lib/ beside it). The test starts it on 127.0.0.1.
	envApicurioJar = "TEST_APICURIO_JAR"
	// envRegistryRequired, when "1", makes a missing jar a test failure.
	envRegistryRequired = "TEST_SCHEMA_REGISTRY_REQUIRED"
)

// legacyEnvelope is an older schema of the same name that the current
// envelope cannot read (its required fields have no defaults): under
// BACKWARD compatibility a registry must refuse the current envelope after it.
const legacyEnvelope = `{"type":"record","name":"ChangeEnvelope","namespace":"io.sfconnect.v1",
 "fields":[{"name":"legacy_id","type":"string"}]}`

func changeEnvelope() *source.Envelope {
	id, schemaID, uuid, origin := "001xx000003DGb2AAG", "sch-1", "evt-1", "sink-a"
	return &source.Envelope{
		EnvelopeVersion: source.EnvelopeVersion, Kind: source.KindChange, Entity: "Account", RecordID: &id,
		ChangeType: "UPDATE",
		Fields: map[string]any{
			"Name": "Acme", "NumberOfEmployees": int64(42), "AnnualRevenue": 1.5e6, "IsActive__c": true,
			"Description": nil, "BillingAddress.City": "Paris",
		},
		ChangedFields: []string{"Name", "BillingAddress.City"}, NulledFields: []string{"Description"},
		DiffFields: []string{},
		Header: &source.Header{
			RecordIDs: []string{id}, ChangeOrigin: "com/salesforce/api/rest/62.0;client=sink-a",
			TransactionKey: "tx-1", SequenceNumber: 3, CommitTimestamp: time.UnixMilli(1_760_000_000_123).UTC(),
			CommitNumber: 99, CommitUser: "005xx",
		},
		Channel: "/data/AccountChangeEvent", ReplayID: []byte{0, 0, 0, 7}, SchemaID: &schemaID,
		EventUUID: &uuid, OriginClient: &origin, LoopTagged: true,
		DedupeKey: "/data/AccountChangeEvent|00000007|" + id, ReceivedAt: time.UnixMilli(1_760_000_001_456).UTC(),
	}
}

func platformEnvelope() *source.Envelope {
	uuid := "evt-2"
	return &source.Envelope{
		EnvelopeVersion: source.EnvelopeVersion, Kind: source.KindPlatformEvent, Entity: "Order__e",
		ChangeType: "PUBLISH", Fields: map[string]any{"OrderNumber__c": "O-1", "Amount__c": 9.5},
		ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{},
		Channel: "/event/Order__e", ReplayID: []byte{1}, EventUUID: &uuid,
		DedupeKey: "/event/Order__e|01|evt-2", ReceivedAt: time.UnixMilli(1_760_000_002_000).UTC(),
	}
}

// registryClient returns a client of the registry at url.
func registryClient(t *testing.T, url string, opts ...sr.ClientOpt) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url)}, opts...)...)
	if err != nil {
		t.Fatalf("new registry client: %v", err)
	}
	return cl
}

// avroEncoder builds the encoder the binary would from cfg.
func avroEncoder(t *testing.T, cfg source.Config) *source.AvroEncoder {
	t.Helper()
	cfg.ValueFormat = source.ValueFormatAvro
	enc, err := source.NewValueEncoder(cfg)
	if err != nil {
		t.Fatalf("new value encoder: %v", err)
	}
	a, ok := enc.(*source.AvroEncoder)
	if !ok {
		t.Fatalf("value format avro built a %T", enc)
	}
	return a
}

// countRegistrations counts the schema registrations reg receives.
func countRegistrations(reg *srfake.Registry) *atomic.Int32 {
	var n atomic.Int32
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions") {
			n.Add(1)
		}
		return false
	})
	return &n
}

// checkWire asserts that b is a Confluent-framed Avro value of subject's
// latest schema in the registry cl talks to, decodes it back with franz-go's
// Serde and hamba, and independently with goavro using the schema text the
// registry returns for the id, and compares both with want.
func checkWire(t *testing.T, cl *sr.Client, subject string, b []byte, want *source.Envelope) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(b) < 6 || b[0] != 0 {
		t.Fatalf("%s: value %x does not start with the magic byte 0", subject, b[:min(len(b), 8)])
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	latest, err := cl.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		t.Fatalf("read subject %s back: %v", subject, err)
	}
	if latest.ID != id {
		t.Fatalf("%s: value carries schema id %d, the subject's latest schema is id %d", subject, id, latest.ID)
	}
	if latest.Type != sr.TypeAvro {
		t.Fatalf("%s: registered as %v, want AVRO", subject, latest.Type)
	}

	// franz-go's Serde: the same framing, decoded with hamba.
	hs := avro.MustParse(schemas.ChangeEnvelope)
	var serde sr.Serde
	serde.Register(id, source.Envelope{}, sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(hs, b, v) }))
	var got source.Envelope
	if err := serde.Decode(b, &got); err != nil {
		t.Fatalf("%s: Serde decode: %v", subject, err)
	}
	if !reflect.DeepEqual(&got, want) {
		gj, _ := json.Marshal(&got)
		wj, _ := json.Marshal(want)
		t.Fatalf("%s: Serde decoded\n%s\nwant\n%s", subject, gj, wj)
	}

	// goavro, with the schema as the registry serves it.
	text, err := cl.SchemaByID(ctx, id)
	if err != nil {
		t.Fatalf("fetch schema %d: %v", id, err)
	}
	codec, err := goavro.NewCodec(text.Schema)
	if err != nil {
		t.Fatalf("goavro cannot parse the registered schema: %v", err)
	}
	native, rest, err := codec.NativeFromBinary(b[5:])
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro decode: %v (%d bytes left)", err, len(rest))
	}
	m := native.(map[string]any)
	if m["entity"] != want.Entity || m["kind"] != want.Kind || m["dedupe_key"] != want.DedupeKey {
		t.Fatalf("goavro read entity %v kind %v dedupe_key %v, want %s %s %s",
			m["entity"], m["kind"], m["dedupe_key"], want.Entity, want.Kind, want.DedupeKey)
	}
	if ts, _ := m["received_at"].(time.Time); !ts.Equal(want.ReceivedAt) {
		t.Fatalf("goavro read received_at %v, want %v", m["received_at"], want.ReceivedAt)
	}
	fields := m["fields"].(map[string]any)
	for k, v := range want.Fields {
		var wantV any
		switch x := v.(type) {
		case nil:
		case string:
			wantV = map[string]any{"string": x}
		case int64:
			wantV = map[string]any{"long": x}
		case float64:
			wantV = map[string]any{"double": x}
		case bool:
			wantV = map[string]any{"boolean": x}
		}
		if !reflect.DeepEqual(fields[k], wantV) {
			t.Fatalf("goavro read field %s = %#v, want %#v", k, fields[k], wantV)
		}
	}
	if want.RecordID != nil && !reflect.DeepEqual(m["record_id"], map[string]any{"string": *want.RecordID}) {
		t.Fatalf("goavro read record_id %#v", m["record_id"])
	}
	if want.Header != nil {
		h := m["header"].(map[string]any)["io.sfconnect.v1.ChangeHeader"].(map[string]any)
		if ts, _ := h["commit_timestamp"].(time.Time); !ts.Equal(want.Header.CommitTimestamp) || h["transaction_key"] != want.Header.TransactionKey {
			t.Fatalf("goavro read header %v", h)
		}
	}
}

// encodeTwoTopics encodes a change and a platform event to two topics
// through enc and checks subjects, ids and both decodings against the
// registry cl talks to.
func encodeTwoTopics(t *testing.T, enc source.ValueEncoder, cl *sr.Client, prefix string) {
	t.Helper()
	cases := []struct {
		topic string
		env   *source.Envelope
	}{
		{prefix + "salesforce.Account", changeEnvelope()},
		{prefix + "salesforce.Order__e", platformEnvelope()},
	}
	for _, c := range cases {
		b, err := enc.Encode(c.topic, c.env)
		if err != nil {
			t.Fatalf("encode for %s: %v", c.topic, err)
		}
		checkWire(t, cl, c.topic+"-value", b, c.env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subjects, err := cl.Subjects(ctx)
	if err != nil {
		t.Fatalf("list subjects: %v", err)
	}
	for _, c := range cases {
		if !slices.Contains(subjects, c.topic+"-value") {
			t.Fatalf("subjects %v lack %s-value", subjects, c.topic)
		}
	}
}

func TestAvroEncoder_Encode_TwoTopics(t *testing.T) {
	t.Parallel()
	// Basic auth, as Confluent Cloud's API keys use it.
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("key:s3cret"))))
	t.Cleanup(reg.Close)
	registrations := countRegistrations(reg)
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: reg.URL(), SchemaRegistryUsername: "key", SchemaRegistryPassword: "s3cret"})
	cl := registryClient(t, reg.URL(), sr.BasicAuth("key", "s3cret"))

	encodeTwoTopics(t, enc, cl, "")
	if n := registrations.Load(); n != 2 {
		t.Fatalf("%d registrations for two topics, want 2", n)
	}
	// Later envelopes of known topics use the cached ids.
	for range 3 {
		if _, err := enc.Encode("salesforce.Account", changeEnvelope()); err != nil {
			t.Fatalf("encode again: %v", err)
		}
	}
	if n := registrations.Load(); n != 2 {
		t.Fatalf("%d registrations after re-encoding known topics, want 2 (ids are cached)", n)
	}
	for _, s := range []string{"salesforce.Account-value", "salesforce.Order__e-value"} {
		got, ok := reg.GetSchema(s, 1)
		if !ok || got.Schema.Schema != schemas.ChangeEnvelope {
			t.Fatalf("subject %s version 1 is not the envelope schema (found %v)", s, ok)
		}
	}
}

func TestAvroEncoder_Encode_WrongCredentialsRetryable(t *testing.T) {
	t.Parallel()
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("key:s3cret"))))
	t.Cleanup(reg.Close)
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: reg.URL(), SchemaRegistryUsername: "key", SchemaRegistryPassword: "wrong"})
	_, err := enc.Encode("salesforce.Account", changeEnvelope())
	if err == nil || !connectorlib.IsRetryable(err) {
		t.Fatalf("Encode with wrong credentials = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error %q echoes the password", err)
	}
}

func TestAvroEncoder_Encode_ConcurrentRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	registrations := countRegistrations(reg)
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: reg.URL()})
	topics := []string{"t.a", "t.b", "t.c"}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(topics))
	for i := range 8 * len(topics) {
		wg.Go(func() {
			if _, err := enc.Encode(topics[i%len(topics)], changeEnvelope()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent encode: %v", err)
	}
	if n := registrations.Load(); n != int32(len(topics)) {
		t.Fatalf("%d registrations for %d topics encoded concurrently, want one each", n, len(topics))
	}
}

func TestAvroEncoder_Encode_RegistryDown(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	url := reg.URL()
	reg.Close()
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: url})
	_, err := enc.Encode("salesforce.Account", changeEnvelope())
	if err == nil {
		t.Fatal("Encode succeeded with the registry down")
	}
	if !connectorlib.IsRetryable(err) || connectorlib.Classify(err) != connectorlib.ClassRetryable {
		t.Fatalf("registry down: %v is class %s, want retryable", err, connectorlib.Classify(err))
	}
	if !strings.Contains(err.Error(), "salesforce.Account-value") {
		t.Fatalf("error %q does not name the subject", err)
	}
}

// registryReply answers every registration with status and code.
func registryReply(status, code int, msg string) srfake.Interceptor {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/versions") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
		return true
	}
}

func TestAvroEncoder_Encode_RegistryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		code      int
		wantClass connectorlib.Class
		wantCode  string
	}{
		{name: "store error", status: 500, code: 50001, wantClass: connectorlib.ClassRetryable},
		{name: "forwarding to primary failed", status: 500, code: 50003, wantClass: connectorlib.ClassRetryable},
		{name: "unauthorized", status: 401, code: 401, wantClass: connectorlib.ClassRetryable},
		{name: "incompatible", status: 409, code: 409, wantClass: connectorlib.ClassPermanent, wantCode: source.CodeSchemaIncompatible},
		{name: "invalid schema", status: 422, code: 42201, wantClass: connectorlib.ClassPermanent, wantCode: source.CodeSchemaRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := srfake.New()
			t.Cleanup(reg.Close)
			reg.Intercept(registryReply(tc.status, tc.code, tc.name))
			enc := avroEncoder(t, source.Config{SchemaRegistryURL: reg.URL()})
			_, err := enc.Encode("topic", platformEnvelope())
			if err == nil {
				t.Fatal("Encode succeeded")
			}
			if got := connectorlib.Classify(err); got != tc.wantClass || connectorlib.Code(err) != tc.wantCode {
				t.Fatalf("%v: class %s code %q, want %s %q", err, got, connectorlib.Code(err), tc.wantClass, tc.wantCode)
			}
			// The failure is not cached: once the registry recovers the
			// same encoder registers and encodes.
			reg.ClearInterceptors()
			b, err := enc.Encode("topic", platformEnvelope())
			if err != nil {
				t.Fatalf("Encode after the registry recovered: %v", err)
			}
			checkWire(t, registryClient(t, reg.URL()), "topic-value", b, platformEnvelope())
		})
	}
}

// enforceCompatibility makes reg refuse registrations that break the
// subject's BACKWARD compatibility, as a real registry does (srfake's own
// compatibility check is a stub that accepts everything): the new schema,
// as reader, must read data written with the latest version (hamba's
// compatibility check), else the answer is Confluent's HTTP 409, error 409.
func enforceCompatibility(t *testing.T, reg *srfake.Registry) {
	t.Helper()
	cl := registryClient(t, reg.URL())
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		subject, ok := strings.CutPrefix(r.URL.Path, "/subjects/")
		subject, isVersions := strings.CutSuffix(subject, "/versions")
		if r.Method != http.MethodPost || !ok || !isVersions {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in sr.Schema
		if json.Unmarshal(body, &in) != nil {
			return false
		}
		res := cl.Compatibility(sr.WithParams(r.Context(), sr.DefaultToGlobal), subject)
		if res[0].Err != nil || res[0].Level != sr.CompatBackward {
			return false
		}
		latest, err := cl.SchemaByVersion(r.Context(), subject, -1)
		if err != nil {
			return false // no earlier version
		}
		reader, err1 := avro.ParseWithCache(in.Schema, "", &avro.SchemaCache{})
		writer, err2 := avro.ParseWithCache(latest.Schema.Schema, "", &avro.SchemaCache{})
		if err1 != nil || err2 != nil {
			return false
		}
		cerr := avro.NewSchemaCompatibility().Compatible(reader, writer)
		if cerr == nil {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 409, "message": fmt.Sprintf(
			"Schema being registered is incompatible with an earlier schema for subject %q, details: %v", subject, cerr)})
		return true
	})
}

// preRegisterIncompatible sets subject's compatibility to BACKWARD and
// registers legacyEnvelope under it.
func preRegisterIncompatible(t *testing.T, cl *sr.Client, subject string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject); res[0].Err != nil {
		t.Fatalf("set BACKWARD on %s: %v", subject, res[0].Err)
	}
	if _, err := cl.RegisterSchema(ctx, subject, sr.Schema{Schema: legacyEnvelope, Type: sr.TypeAvro}, -1, -1); err != nil {
		t.Fatalf("register the legacy schema under %s: %v", subject, err)
	}
}

// checkIncompatible asserts that encoding to topic fails permanently with
// a message that names the subject, the compatibility level and the cause.
func checkIncompatible(t *testing.T, enc source.ValueEncoder, topic string) {
	t.Helper()
	_, err := enc.Encode(topic, changeEnvelope())
	if err == nil {
		t.Fatal("Encode succeeded under an incompatible subject")
	}
	if connectorlib.IsRetryable(err) || connectorlib.Code(err) != source.CodeSchemaIncompatible {
		t.Fatalf("incompatible subject: %v is class %s code %q, want permanent %s",
			err, connectorlib.Classify(err), connectorlib.Code(err), source.CodeSchemaIncompatible)
	}
	for _, want := range []string{topic + "-value", "incompatible", "compatibility BACKWARD", "io.sfconnect.v1.ChangeEnvelope"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	t.Logf("refused as it should be: %v", err)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict {
		t.Fatalf("error %v does not wrap the registry's 409 response", err)
	}
}

func TestAvroEncoder_Encode_IncompatibleSubject(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	enforceCompatibility(t, reg)
	cl := registryClient(t, reg.URL())
	preRegisterIncompatible(t, cl, "salesforce.Account-value")
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: reg.URL()})
	checkIncompatible(t, enc, "salesforce.Account")
	// Other subjects are unaffected.
	b, err := enc.Encode("salesforce.Contact", changeEnvelope())
	if err != nil {
		t.Fatalf("encode for a fresh subject: %v", err)
	}
	checkWire(t, cl, "salesforce.Contact-value", b, changeEnvelope())
}

func TestAvroEncoder_Encode_BadEnvelopePermanent(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: reg.URL()})
	env := platformEnvelope()
	env.Kind = "NOT_A_KIND"
	_, err := enc.Encode("topic", env)
	if err == nil || connectorlib.Code(err) != source.CodeAvroEncode || connectorlib.IsRetryable(err) {
		t.Fatalf("Encode of an envelope outside the schema = %v, want permanent %s", err, source.CodeAvroEncode)
	}
}

func TestAvroConfig_Validate(t *testing.T) {
	t.Parallel()
	valid := func() source.Config {
		return source.Config{
			Channels: []string{"/data/AccountChangeEvent"}, Transport: source.TransportPubSub, Appetite: 100,
			InitialReplay: source.ReplayLatest, OnInvalidReplay: source.ReplayFail, TopicTemplate: "salesforce.{entity}",
			LoopAction: source.LoopDrop, ValueFormat: source.ValueFormatJSON,
		}
	}
	tests := []struct {
		name    string
		mod     func(c *source.Config)
		wantErr string // "" means valid
	}{
		{name: "json needs no registry", mod: func(*source.Config) {}},
		{name: "unset format is json", mod: func(c *source.Config) { c.ValueFormat = "" }},
		{name: "avro", mod: func(c *source.Config) {
			c.ValueFormat, c.SchemaRegistryURL = source.ValueFormatAvro, "http://127.0.0.1:8081"
		}},
		{name: "avro with two URLs and basic auth", mod: func(c *source.Config) {
			c.ValueFormat, c.SchemaRegistryURL = source.ValueFormatAvro, "https://a.example:8081, https://b.example:8081"
			c.SchemaRegistryUsername, c.SchemaRegistryPassword = "key", "secret"
		}},
		{name: "unknown format", mod: func(c *source.Config) { c.ValueFormat = "protobuf" }, wantErr: "SFCONNECT_SOURCE_VALUE_FORMAT"},
		{name: "avro without URL", mod: func(c *source.Config) { c.ValueFormat = source.ValueFormatAvro },
			wantErr: "SFCONNECT_SOURCE_SCHEMA_REGISTRY_URL: required"},
		{name: "not http", mod: func(c *source.Config) {
			c.ValueFormat, c.SchemaRegistryURL = source.ValueFormatAvro, "localhost:8081"
		}, wantErr: "SFCONNECT_SOURCE_SCHEMA_REGISTRY_URL"},
		{name: "credentials in URL", mod: func(c *source.Config) {
			c.ValueFormat, c.SchemaRegistryURL = source.ValueFormatAvro, "https://key:hunter2@sr.example"
		}, wantErr: "must not carry credentials"},
		{name: "username without password", mod: func(c *source.Config) {
			c.ValueFormat, c.SchemaRegistryURL, c.SchemaRegistryUsername = source.ValueFormatAvro, "http://sr:8081", "key"
		}, wantErr: "SFCONNECT_SOURCE_SCHEMA_REGISTRY_PASSWORD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("Validate echoes the password: %v", err)
			}
		})
	}
}

// apicurio is a real Apicurio Registry process started by the test.
type apicurio struct {
	cmd  *exec.Cmd
	done chan struct{}
	url  string // its Confluent-compatible API
}

// startApicurio starts Apicurio Registry (in-memory storage) on a free
// 127.0.0.1 port, waits up to 3 minutes for it, and stops it by PID when t
// ends. It returns nil when envApicurioJar is unset (a failure when
// envRegistryRequired=1).
func startApicurio(t *testing.T) *apicurio {
	t.Helper()
	jar := os.Getenv(envApicurioJar)
	if jar == "" {
		if os.Getenv(envRegistryRequired) == "1" {
			t.Fatalf("%s is not set but %s=1: the real Schema Registry is not installed", envApicurioJar, envRegistryRequired)
		}
		t.Skipf("%s not set: no real Schema Registry", envApicurioJar)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	logPath := filepath.Join(t.TempDir(), "apicurio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// 512 MiB heap: ample for a few schemas, small for the 24 GiB machine.
	cmd := exec.Command("java", "-Xmx512m",
		"-Dquarkus.http.host=127.0.0.1", fmt.Sprintf("-Dquarkus.http.port=%d", port),
		"-Dquarkus.log.level=WARN", "-jar", jar)
	cmd.Dir = filepath.Dir(jar)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Apicurio Registry: %v", err)
	}
	a := &apicurio{cmd: cmd, done: make(chan struct{}), url: fmt.Sprintf("http://127.0.0.1:%d/apis/ccompat/v7", port)}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(a.done) }()
	t.Cleanup(a.stop)

	deadline := time.Now().Add(3 * time.Minute) // JVM start-up on two busy cores
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(a.url + "/subjects")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a
			}
		}
		select {
		case <-a.done:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("Apicurio Registry exited during start-up:\n%s", out)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("Apicurio Registry not ready on %s after 3m:\n%s", a.url, out)
		}
	}
}

// stop kills the process by its PID and waits for it.
func (a *apicurio) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Kill()
	<-a.done
}

// TestAvroEncoder_Apicurio runs the encoder against a real Schema Registry
// implementation, Apicurio Registry's Confluent-compatible API: both
// topics, an incompatible subject refused by the registry's own
// compatibility rules, then the registry stopped.
func TestAvroEncoder_Apicurio(t *testing.T) {
	a := startApicurio(t)
	cl := registryClient(t, a.url)
	enc := avroEncoder(t, source.Config{SchemaRegistryURL: a.url})

	encodeTwoTopics(t, enc, cl, "")

	preRegisterIncompatible(t, cl, "legacy.Account-value")
	checkIncompatible(t, enc, "legacy.Account")

	a.stop()
	_, err := enc.Encode("salesforce.Contact", changeEnvelope())
	if err == nil || !connectorlib.IsRetryable(err) {
		t.Fatalf("Encode with the registry stopped = %v, want a retryable error", err)
	}
	// Known topics still encode from the cache.
	if _, err := enc.Encode("salesforce.Account", changeEnvelope()); err != nil {
		t.Fatalf("Encode of a cached topic with the registry stopped: %v", err)
	}
}
